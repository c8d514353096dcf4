package btrfs

import (
	"os"
	"unsafe"
)

// ListFromRootTree is List's root-tree half alone: the subvolumes directly
// in dir that the root tree lists, nil when it cannot be read.
func ListFromRootTree(dir string) (map[string]Subvolume, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	var parent getSubvolInfoArgs
	if err := ioctl(int(f.Fd()), iocGetSubvolInfo, unsafe.Pointer(&parent)); err != nil {
		return nil, err
	}
	known, err := listKnown(int(f.Fd()), dir, parent.TreeID, entries)
	if known == nil {
		return nil, err
	}
	byName := make(map[string]Subvolume, len(known))
	for name, sv := range known {
		byName[name] = *sv
	}
	return byName, err
}

const DenseGap = denseGap
