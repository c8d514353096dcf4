package safefs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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
		if madeHere(parent, name, fd) {
			return TempDir{FD: fd, name: name}, nil
		}
		// The parent's owner exchanged the name between mkdir and open:
		// fd is their directory, which drsync must neither fill nor empty.
		// Ours now lies under a name of theirs; it is empty and private.
		unix.Close(fd)
	}
	return TempDir{}, fmt.Errorf("restore: no free temporary name in %s (or its owner keeps exchanging them)", where)
}

// madeHere reports whether fd is the directory NewTempDir just made: owned
// by this process's user, mode 0700, empty, and still named name in parent.
func madeHere(parent int, name string, fd int) bool {
	opened, ok := stillNamed(parent, name, fd)
	if !ok || int(opened.Uid) != os.Geteuid() || opened.Mode&0o7777 != 0o700 {
		return false
	}
	f := os.NewFile(uintptr(dupOrNeg(fd)), name)
	if f == nil {
		return false
	}
	defer f.Close()
	entries, err := f.ReadDir(1)
	// The duplicate shares fd's offset: rewind it for the restore's own
	// listing (Remove's).
	_, seekErr := unix.Seek(fd, 0, io.SeekStart)
	return err == io.EOF && len(entries) == 0 && seekErr == nil
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
	if _, ok := stillNamed(parent, t.name, t.FD); ok {
		unix.Unlinkat(parent, t.name, unix.AT_REMOVEDIR)
	}
}

// stillNamed returns fd's stat and whether name in parent is that very
// inode (not a symlink to it, nor something swapped in).
func stillNamed(parent int, name string, fd int) (unix.Stat_t, bool) {
	var opened, named unix.Stat_t
	if unix.Fstat(fd, &opened) != nil || unix.Fstatat(parent, name, &named, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return opened, false
	}
	return opened, opened.Dev == named.Dev && opened.Ino == named.Ino
}

func dupOrNeg(fd int) int {
	d, err := unix.Dup(fd)
	if err != nil {
		return -1
	}
	return d
}
