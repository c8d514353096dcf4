package btrfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSysfs lays out /sys/dev/block/<dev>/{dm/uuid,dm/name,slaves/<s>/dev}
// as the kernel shows a dm-crypt mapping (this kernel has no device-mapper).
func fakeSysfs(t *testing.T, dev, dmUUID, dmName string, slaves map[string]string) string {
	t.Helper()
	root := t.TempDir()
	d := filepath.Join(root, "dev", "block", dev)
	write := func(rel, content string) {
		p := filepath.Join(d, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if dmUUID != "" {
		write("dm/uuid", dmUUID)
		write("dm/name", dmName)
	}
	if err := os.MkdirAll(filepath.Join(d, "slaves"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, num := range slaves {
		write(filepath.Join("slaves", name, "dev"), num)
	}
	return root
}

func TestCheckLUKSMapping(t *testing.T) {
	const luksUUID = "CRYPT-LUKS2-0123456789abcdef0123456789abcdef-WD-18TB"
	for _, c := range []struct {
		name           string
		dmUUID, dmName string
		slaves         map[string]string
		wantErr        string // "" passes
	}{
		{"the declared device's open mapping", luksUUID, "WD-18TB", map[string]string{"sdb1": "8:17"}, ""},
		{"plaintext btrfs with the drive's uuid", "", "", nil, "no device-mapper device"},
		{"an LVM volume", "LVM-abcdef", "vg-lv", map[string]string{"sdb1": "8:17"}, "no LUKS mapping"},
		{"LUKS on another disk", luksUUID, "WD-18TB", map[string]string{"sdc1": "8:33"}, "not the declared device"},
		{"another mapping name", luksUUID, "usbstick", map[string]string{"sdb1": "8:17"}, `named "usbstick"`},
		{"two backing devices", luksUUID, "WD-18TB", map[string]string{"sdb1": "8:17", "sdc1": "8:33"}, "2 backing devices"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := fakeSysfs(t, "254:3", c.dmUUID, c.dmName, c.slaves)
			err := checkLUKSMapping(root, "254:3", "8:17", "WD-18TB")
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("err = %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}
