package btrfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/schema"
)

// sysfs is where the kernel's device tree is read from.
const sysfs = "/sys"

// onLUKSMapping checks that the filesystem mounted from source sits on an
// open LUKS container of the declared device: source must be a
// device-mapper device whose dm uuid says CRYPT-LUKS, named as the declared
// mapping, with exactly one backing device, the declared one. A filesystem
// UUID alone is public (runbooks print it), so a plaintext look-alike made
// with `mkfs.btrfs -U` must not pass for the encrypted drive.
func onLUKSMapping(sysfsRoot, source string, luks *schema.LUKS) error {
	mounted, err := blockDevice(source)
	if err != nil {
		return fmt.Errorf("the mounted filesystem's device: %w", err)
	}
	declared, err := blockDevice(luks.Device)
	if err != nil {
		return fmt.Errorf("the declared LUKS device: %w", err)
	}
	return checkLUKSMapping(sysfsRoot, mounted, declared, luks.Mapping)
}

// blockDevice returns the "major:minor" of the block device at path
// (symlinks such as /dev/disk/by-label/… followed: /dev is root's).
func blockDevice(path string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return "", fmt.Errorf("%s is not a block device", path)
	}
	return fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev)), nil
}

// checkLUKSMapping is onLUKSMapping on device numbers, against a sysfs tree
// rooted at sysfsRoot (a fake one in tests: this kernel has no dm-crypt).
func checkLUKSMapping(sysfsRoot, mounted, declared, mapping string) error {
	dev := filepath.Join(sysfsRoot, "dev", "block", mounted)
	read := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dev, name))
		return strings.TrimSpace(string(b)), err
	}
	uuid, err := read("dm/uuid")
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("the filesystem is on block device %s, which is no device-mapper device (plaintext)", mounted)
	}
	if err != nil {
		return err
	}
	if !strings.HasPrefix(uuid, "CRYPT-LUKS") {
		return fmt.Errorf("device-mapper device %s is no LUKS mapping (dm uuid %q)", mounted, uuid)
	}
	if name, err := read("dm/name"); err != nil {
		return err
	} else if mapping != "" && name != mapping {
		return fmt.Errorf("the LUKS mapping is named %q, not the declared %q", name, mapping)
	}
	slaves, err := os.ReadDir(filepath.Join(dev, "slaves"))
	if err != nil {
		return err
	}
	if len(slaves) != 1 {
		return fmt.Errorf("the LUKS mapping has %d backing devices, want 1", len(slaves))
	}
	backing, err := read(filepath.Join("slaves", slaves[0].Name(), "dev"))
	if err != nil {
		return err
	}
	if backing != declared {
		return fmt.Errorf("the LUKS mapping is backed by %s (%s), not the declared device (%s)", slaves[0].Name(), backing, declared)
	}
	return nil
}
