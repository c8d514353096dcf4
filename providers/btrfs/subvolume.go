// Package btrfs observes and mutates btrfs subvolumes. Observation uses
// readdir and ioctls only, so listing thousands of snapshots costs no process
// spawns; mutations exec btrfs-progs, the reference implementation.
package btrfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/safefs"
)

// ErrNotSubvolume is returned (wrapped) when a path is not the root of a
// btrfs subvolume.
var ErrNotSubvolume = errors.New("not a btrfs subvolume")

// Subvolume is the metadata of one subvolume, as the kernel reports it.
type Subvolume struct {
	Path         string // absolute path
	Name         string // base name
	UUID         string // canonical 8-4-4-4-12 lowercase, "" when all-zero
	ParentUUID   string
	ReceivedUUID string // "" when unset: a snapshot on a receive target without it is half-received
	ReadOnly     bool
	Generation   uint64
	Created      time.Time // otime
}

// openSubvol opens path, with no symlink in any component, and checks it
// is a subvolume root on btrfs.
func openSubvol(op, path string) (int, error) {
	fd, err := safefs.OpenDir(path)
	if errors.Is(err, unix.ENOTDIR) {
		return -1, fmt.Errorf("%s %s: %w", op, path, ErrNotSubvolume)
	}
	if err != nil {
		return -1, fmt.Errorf("%s: %w", op, err)
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("%s %s: statfs: %w", op, path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("%s %s: stat: %w", op, path, err)
	}
	if sfs.Type != unix.BTRFS_SUPER_MAGIC || st.Ino != firstFreeObjectID {
		unix.Close(fd)
		return -1, fmt.Errorf("%s %s: %w", op, path, ErrNotSubvolume)
	}
	return fd, nil
}

// Info reads one subvolume's metadata with BTRFS_IOC_GET_SUBVOL_INFO.
func Info(path string) (Subvolume, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Subvolume{}, err
	}
	fd, err := openSubvol("btrfs subvolume info", abs)
	if err != nil {
		return Subvolume{}, err
	}
	defer unix.Close(fd)
	var a getSubvolInfoArgs
	if err := ioctl(fd, iocGetSubvolInfo, unsafe.Pointer(&a)); err != nil {
		return Subvolume{}, fmt.Errorf("btrfs subvolume info %s: GET_SUBVOL_INFO: %w", abs, err)
	}
	return subvolumeOf(abs, &a), nil
}

func subvolumeOf(path string, a *getSubvolInfoArgs) Subvolume {
	return Subvolume{
		Path:         path,
		Name:         filepath.Base(path),
		UUID:         formatUUID(a.UUID),
		ParentUUID:   formatUUID(a.ParentUUID),
		ReceivedUUID: formatUUID(a.ReceivedUUID),
		ReadOnly:     a.Flags&rootSubvolRdonly != 0,
		Generation:   a.Generation,
		Created:      time.Unix(int64(a.Otime.Sec), int64(a.Otime.Nsec)),
	}
}

// List returns the subvolumes directly inside dir, sorted by name, and the
// names of all other entries. dir is opened with no symlink in any
// component: a snapshot directory reached through one is an error. A missing dir yields empty results, because a
// snapshot directory that does not exist yet simply holds no snapshots.
//
// As root it reads the subvolumes' root items from the root tree, a few
// tree searches for thousands of snapshots; otherwise, and for any
// directory the root tree does not list, it costs three system calls per
// entry (openat, GET_SUBVOL_INFO, close) and none per plain file: an entry
// is a subvolume root exactly when the subvolume holding it is not the one
// holding dir.
func List(dir string) (subvols []Subvolume, others []string, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, err
	}
	fd, err := safefs.OpenDir(abs)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("btrfs list: %w", err)
	}
	f := os.NewFile(uintptr(fd), abs)
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, nil, fmt.Errorf("btrfs list %s: %w", abs, err)
	}
	slices.SortFunc(entries, func(a, b os.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	subvols = make([]Subvolume, 0, len(entries))
	dirfd := int(f.Fd())
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(dirfd, &sfs); err != nil {
		return nil, nil, fmt.Errorf("btrfs list %s: statfs: %w", abs, err)
	}
	var parent getSubvolInfoArgs
	onBtrfs := sfs.Type == unix.BTRFS_SUPER_MAGIC
	if onBtrfs {
		if err := ioctl(dirfd, iocGetSubvolInfo, unsafe.Pointer(&parent)); err != nil {
			return nil, nil, fmt.Errorf("btrfs list %s: GET_SUBVOL_INFO: %w", abs, err)
		}
	}
	var known map[string]*Subvolume // from the root tree, when it can be read
	if onBtrfs {
		if known, err = listKnown(dirfd, abs, parent.TreeID, entries); err != nil {
			return nil, nil, fmt.Errorf("btrfs list %s: %w", abs, err)
		}
	}
	for _, e := range entries {
		if !onBtrfs || !e.IsDir() {
			others = append(others, e.Name())
			continue
		}
		if sv, ok := known[e.Name()]; ok {
			subvols = append(subvols, *sv)
			continue
		}
		fd, err := unix.Openat(dirfd, e.Name(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("btrfs list %s: open %s: %w", abs, e.Name(), err)
		}
		var a getSubvolInfoArgs
		err = ioctl(fd, iocGetSubvolInfo, unsafe.Pointer(&a))
		unix.Close(fd)
		if errors.Is(err, unix.ENOTTY) || (err == nil && a.TreeID == parent.TreeID) {
			others = append(others, e.Name())
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("btrfs list %s: GET_SUBVOL_INFO %s: %w", abs, e.Name(), err)
		}
		subvols = append(subvols, subvolumeOf(filepath.Join(abs, e.Name()), &a))
	}
	return subvols, others, nil
}

// FilesystemUUID returns the fsid of the btrfs filesystem holding path.
func FilesystemUUID(path string) (string, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("btrfs filesystem uuid %s: %w", path, err)
	}
	defer unix.Close(fd)
	var a fsInfoArgs
	if err := ioctl(fd, iocFSInfo, unsafe.Pointer(&a)); err != nil {
		return "", fmt.Errorf("btrfs filesystem uuid %s: FS_INFO: %w", path, err)
	}
	return formatUUID(a.FSID), nil
}

// SetReadOnly flips the subvolume's ro flag with BTRFS_IOC_SUBVOL_SETFLAGS.
// Making a received subvolume writable also clears its received UUID, as
// `btrfs property set -f ro false` does: once its content can change it is no
// longer a copy of the sent snapshot, and an incremental send against it would
// silently produce a corrupt replica.
func SetReadOnly(path string, ro bool) error {
	fd, err := openSubvol("btrfs set ro", path)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var flags uint64
	if err := ioctl(fd, iocSubvolGetflags, unsafe.Pointer(&flags)); err != nil {
		return fmt.Errorf("btrfs set ro %s: SUBVOL_GETFLAGS: %w", path, err)
	}
	if ro {
		flags |= subvolRdonly
	} else {
		flags &^= subvolRdonly
	}
	if err := ioctl(fd, iocSubvolSetflags, unsafe.Pointer(&flags)); err != nil {
		return fmt.Errorf("btrfs set ro=%t %s: SUBVOL_SETFLAGS: %w", ro, path, err)
	}
	if ro {
		return nil
	}
	var info getSubvolInfoArgs
	if err := ioctl(fd, iocGetSubvolInfo, unsafe.Pointer(&info)); err != nil {
		return fmt.Errorf("btrfs set ro=false %s: GET_SUBVOL_INFO: %w", path, err)
	}
	if info.ReceivedUUID == [16]byte{} {
		return nil
	}
	var clear receivedSubvolArgs
	if err := ioctl(fd, iocSetReceivedSubvol, unsafe.Pointer(&clear)); err != nil {
		return fmt.Errorf("btrfs set ro=false %s: clear received uuid: %w", path, err)
	}
	return nil
}

// SetReceivedUUID records path as received from the subvolume uuid at
// stransid, as btrfs receive does on completion. The kernel refuses this on a
// read-only subvolume, so set it before SetReadOnly(path, true).
func SetReceivedUUID(path, uuid string, stransid uint64) error {
	u, err := parseUUID(uuid)
	if err != nil {
		return fmt.Errorf("btrfs set received uuid %s: %w", path, err)
	}
	fd, err := openSubvol("btrfs set received uuid", path)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	a := receivedSubvolArgs{UUID: u, Stransid: stransid}
	if err := ioctl(fd, iocSetReceivedSubvol, unsafe.Pointer(&a)); err != nil {
		return fmt.Errorf("btrfs set received uuid %s: SET_RECEIVED_SUBVOL: %w", path, err)
	}
	return nil
}
