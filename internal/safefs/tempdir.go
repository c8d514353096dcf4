package safefs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// TempDir is a private directory (0700) made beside a target through its
// parent's descriptor and held open: a restore writes into it, then moves
// what it made into place, so nothing half-made is ever at the target.
type TempDir struct {
	FD   int
	name string
}

// NewTempDir makes a TempDir in the directory parent (named where, for
// messages).
func NewTempDir(parent int, where string) (TempDir, error) {
	for range 100 {
		var b [8]byte
		rand.Read(b[:])
		name := ".drsync-restore-" + hex.EncodeToString(b[:])
		err := unix.Mkdirat(parent, name, 0o700)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return TempDir{}, fmt.Errorf("restore: mkdir in %s: %w", where, err)
		}
		fd, err := OpenBeneath(parent, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return TempDir{}, fmt.Errorf("restore: %w", err)
		}
		return TempDir{FD: fd, name: name}, nil
	}
	return TempDir{}, fmt.Errorf("restore: no free temporary name in %s", where)
}

// Remove empties the temporary directory through its own descriptor and
// unlinks its name only while that name is still this directory: a user
// who renamed something else to it keeps it.
func (t TempDir) Remove(parent int) {
	defer unix.Close(t.FD)
	if f := os.NewFile(uintptr(dupOrNeg(t.FD)), t.name); f != nil {
		entries, _ := f.ReadDir(-1)
		f.Close()
		for _, e := range entries {
			os.RemoveAll(ProcPath(t.FD, e.Name()))
		}
	}
	var mine, named unix.Stat_t
	if unix.Fstat(t.FD, &mine) != nil || unix.Fstatat(parent, t.name, &named, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return
	}
	if mine.Dev == named.Dev && mine.Ino == named.Ino {
		unix.Unlinkat(parent, t.name, unix.AT_REMOVEDIR)
	}
}

func dupOrNeg(fd int) int {
	d, err := unix.Dup(fd)
	if err != nil {
		return -1
	}
	return d
}
