package prove

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/safefs"
)

// scratchPrefix marks drsync's scratch directories, so cleaning never
// touches anything else under the scratch root.
const scratchPrefix = "restore-test-"

// scratchDir is one run's directory under the scratch root, held open: all
// writes go through Fd (or Proc, which names that very directory), so
// renaming or replacing anything on the way to it redirects nothing.
type scratchDir struct {
	Fd   int
	Name string // in the scratch root
	Path string // for people: where a failed test's files are kept
	Proc string // /proc/self/fd/N: the open directory, for path-based readers
}

func (s scratchDir) Close() { unix.Close(s.Fd) }

// openScratchRoot opens the scratch root with no symlink on the way,
// creating it 0700 when missing. An existing one must be root's and not
// writable by group or others: a directory another user controls (say one
// pre-created in /var/tmp) would let that user swap a run's directory and
// receive the sampled files of homes they cannot read.
func openScratchRoot(root string) (int, error) {
	fd, err := safefs.OpenDir(root)
	if errors.Is(err, os.ErrNotExist) {
		fd, err = safefs.MkdirAll(root, 0o700)
	}
	if err != nil {
		return -1, fmt.Errorf("scratch: %w", err)
	}
	if err := safefs.CheckTrusted(fd, root); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("scratch: refusing %w; use a directory only root can write (the default is under the state directory)", err)
	}
	return fd, nil
}

// newScratch creates a fresh 0700 run directory under the scratch root,
// through the root's descriptor.
func newScratch(rootFd int, root, subvol string, t time.Time) (scratchDir, error) {
	for range 100 {
		var b [6]byte
		rand.Read(b[:])
		name := scratchPrefix + subvol + "-" + t.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
		err := unix.Mkdirat(rootFd, name, 0o700)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return scratchDir{}, fmt.Errorf("scratch: mkdir %s/%s: %w", root, name, err)
		}
		fd, err := safefs.OpenBeneath(rootFd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return scratchDir{}, fmt.Errorf("scratch: %w", err)
		}
		return scratchDir{Fd: fd, Name: name, Path: path.Join(root, name), Proc: safefs.ProcPath(fd, "")}, nil
	}
	return scratchDir{}, fmt.Errorf("scratch: no free name under %s", root)
}

// removeBelow removes dirfd's entry name and everything in it, without
// following symlinks (os.RemoveAll works by descriptors below its start).
func removeBelow(dirfd int, name string) error {
	return os.RemoveAll(safefs.ProcPath(dirfd, name))
}

// cleanScratchAt removes the kept scratch directories of failed tests that
// are older than keep from the scratch root open at fd.
func cleanScratchAt(fd int, root string, keep time.Duration, now time.Time) error {
	dup, err := unix.Dup(fd)
	if err != nil {
		return fmt.Errorf("scratch: %w", err)
	}
	f := os.NewFile(uintptr(dup), root)
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("scratch: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), scratchPrefix) {
			continue
		}
		var st unix.Stat_t
		if unix.Fstatat(fd, e.Name(), &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
			continue
		}
		if now.Sub(time.Unix(st.Mtim.Unix())) > keep {
			if err := removeBelow(fd, e.Name()); err != nil {
				return fmt.Errorf("removing old scratch: %w", err)
			}
		}
	}
	return nil
}
