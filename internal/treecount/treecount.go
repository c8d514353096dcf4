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

// Entries counts the entries below root (files, directories, links),
// depth first in name order, stopping at limit: two trees counted this way
// are compared over the same part when both are larger. It walks by
// directory fd, never follows a symlink and stays on root's device, so
// nested subvolumes and mounts are not counted, as a snapshot holds none.
func Entries(root string, limit int) (int, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", root, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return 0, fmt.Errorf("count %s: %w", root, err)
	}
	c := counter{dev: st.Dev, limit: limit}
	err = c.dir(fd, root)
	return c.n, err
}

type counter struct {
	dev      uint64
	limit, n int
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
		if c.n >= c.limit {
			return nil
		}
		c.n++
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
