package session

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewStorage(t *testing.T) {
	for _, name := range []string{"btrfs", "dir"} {
		if _, err := (Options{Storage: name}).NewStorage(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := (Options{Storage: "zfs"}).NewStorage(); err == nil || !strings.Contains(err.Error(), `--storage "zfs": want btrfs or dir`) {
		t.Errorf("zfs: %v", err)
	}
}

func TestReadObserved(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.json"), filepath.Join(dir, "bad.json")
	for path, content := range map[string]string{good: `{"drives": {"usb": {"present": true}}}`, bad: "not json"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if o, err := ReadObserved(good); err != nil || !o.Drives["usb"].Present {
		t.Errorf("good: %+v %v", o, err)
	}
	if _, err := ReadObserved(bad); err == nil || !strings.Contains(err.Error(), "not an observation") {
		t.Errorf("bad: %v", err)
	}
	if _, err := ReadObserved(filepath.Join(dir, "missing.json")); err == nil || !strings.HasPrefix(err.Error(), "observation: ") {
		t.Errorf("missing: %v", err)
	}
}
