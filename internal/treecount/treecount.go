// Package treecount counts a tree's entries cheaply and safely, for the
// providers' source health checks.
package treecount

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Tally is what Count found below a root: its entries, and the bytes of
// the regular files among them (their sizes as lstat tells them; no
// content is read).
type Tally struct {
	Entries int
	Bytes   int64
}

// Count counts the entries below root (files, directories, links) and
// their regular files' bytes, depth first in name order, stopping at
// limit entries: two trees counted this way are compared over the same
// part when both are larger. It walks by directory fd, never follows a
// symlink and stays on root's device, so nested subvolumes and mounts are
// not counted, as a snapshot holds none.
func Count(root string, limit int) (Tally, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return Tally{}, fmt.Errorf("count %s: %w", root, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return Tally{}, fmt.Errorf("count %s: %w", root, err)
	}
	c := counter{dev: st.Dev, limit: limit}
	err = c.dir(fd, root)
	return c.Tally, err
}

type counter struct {
	dev   uint64
	limit int
	Tally
}

// dir counts dir's entries and closes dir.
func (c *counter) dir(dir int, path string) error {
	f := os.NewFile(uintptr(dir), path)
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return fmt.Errorf("count %s: %w", path, err)
	}
	slices.SortFunc(entries, func(a, b os.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	for _, e := range entries {
		if c.Entries >= c.limit {
			return nil
		}
		c.Entries++
		if e.Type().IsRegular() {
			var st unix.Stat_t
			if err := unix.Fstatat(dir, e.Name(), &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
				c.Bytes += st.Size
			} // else replaced or removed while counting: an entry without bytes
			continue
		}
		if !e.IsDir() {
			continue
		}
		sub, err := unix.Openat(dir, e.Name(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ENOENT) {
			continue // replaced while counting: counted as an entry
		}
		if err != nil {
			return fmt.Errorf("count %s/%s: %w", path, e.Name(), err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(sub, &st); err != nil || st.Dev != c.dev {
			unix.Close(sub)
			continue
		}
		if err := c.dir(sub, path+"/"+e.Name()); err != nil {
			return err
		}
	}
	return nil
}
