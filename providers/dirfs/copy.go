package dirfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	chunkSize        = 1 << 20
	blockSize        = 4096
	progressInterval = 200 * time.Millisecond
)

type devIno struct{ dev, ino uint64 }

func keyOf(st *unix.Stat_t) devIno { return devIno{uint64(st.Dev), st.Ino} }

// copier copies a tree preserving what a restore can check: content,
// holes, modes, owners, times, user and security xattrs, symlinks and
// hardlinks. It stops between files and between chunks when ctx ends.
type copier struct {
	ctx      context.Context
	progress func(int64)
	// linkDest, when set, is a replica of an earlier snapshot: files
	// unchanged from it are hardlinked rather than copied.
	linkDest string

	n      int64 // content bytes copied
	last   time.Time
	dev    uint64            // the source's filesystem
	root   devIno            // the tree being written, in case it lies inside the source
	links  map[devIno]string // source inode → its first copy, to keep hardlinks
	linked map[devIno]devIno // linkDest inode → the source inode it stands for
	buf    []byte
}

func (c *copier) copyTree(src, dst string) error {
	var st, dt unix.Stat_t
	if err := unix.Stat(src, &st); err != nil {
		return &os.PathError{Op: "stat", Path: src, Err: err}
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	if err := unix.Lstat(dst, &dt); err != nil {
		return &os.PathError{Op: "lstat", Path: dst, Err: err}
	}
	c.dev, c.root = uint64(st.Dev), keyOf(&dt)
	c.links, c.linked = map[devIno]string{}, map[devIno]devIno{}
	c.buf = make([]byte, chunkSize)
	return c.copyDir(src, dst, "", &st)
}

// copyDir fills the directory dst, already created writable, and only then
// gives it src's metadata: its mode may forbid the writes and every write
// would bump its mtime.
func (c *copier) copyDir(src, dst, rel string, st *unix.Stat_t) error {
	des, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, de := range des {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		name := de.Name()
		if isSidecarIn(src, name) {
			continue
		}
		if err := c.copyEntry(filepath.Join(src, name), filepath.Join(dst, name), filepath.Join(rel, name)); err != nil {
			return err
		}
	}
	return setMeta(src, dst, st)
}

func (c *copier) copyEntry(src, dst, rel string) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: src, Err: err}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if keyOf(&st) == c.root {
			return nil
		}
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
		// A btrfs snapshot stops at nested subvolumes and mount points,
		// which appear in it as empty directories.
		if uint64(st.Dev) != c.dev || isSubvolume(src) {
			return setMeta(src, dst, &st)
		}
		return c.copyDir(src, dst, rel, &st)
	}
	if st.Nlink > 1 {
		if first, ok := c.links[keyOf(&st)]; ok {
			return os.Link(first, dst)
		}
	}
	var err error
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		err = c.copyFile(src, dst, rel, &st)
	case unix.S_IFLNK:
		err = copySymlink(src, dst, &st)
	default: // fifo, socket, device
		if err = unix.Mknod(dst, st.Mode, int(st.Rdev)); err != nil {
			err = &os.PathError{Op: "mknod", Path: dst, Err: err}
		} else {
			err = setMeta(src, dst, &st)
		}
	}
	if err == nil && st.Nlink > 1 {
		c.links[keyOf(&st)] = dst
	}
	return err
}

func copySymlink(src, dst string, st *unix.Stat_t) error {
	target, err := os.Readlink(src)
	if err != nil {
		return err
	}
	if err := os.Symlink(target, dst); err != nil {
		return err
	}
	return setMeta(src, dst, st)
}

func (c *copier) copyFile(src, dst, rel string, st *unix.Stat_t) error {
	if c.linkDest != "" {
		if ok, err := c.linkUnchanged(src, dst, filepath.Join(c.linkDest, rel), st); ok || err != nil {
			return err
		}
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = c.copyData(out, in, st.Size)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return setMeta(src, dst, st)
}

// linkUnchanged hardlinks prev to dst when it is the same file as src by
// rsync's quick check (size and mtime) plus mode, owner and xattrs, all of
// which a hardlink shares. An inode of prev already standing for another
// source inode is not reused, so separate files never become one.
func (c *copier) linkUnchanged(src, dst, prev string, st *unix.Stat_t) (bool, error) {
	var pst unix.Stat_t
	if unix.Lstat(prev, &pst) != nil || pst.Mode != st.Mode || pst.Size != st.Size || pst.Mtim != st.Mtim ||
		pst.Uid != st.Uid || pst.Gid != st.Gid {
		return false, nil
	}
	if was, ok := c.linked[keyOf(&pst)]; ok && was != keyOf(st) {
		return false, nil
	}
	want, err := xattrs(src)
	if err != nil {
		return false, err
	}
	got, err := xattrs(prev)
	if err != nil {
		return false, err
	}
	if !maps.EqualFunc(want, got, bytes.Equal) {
		return false, nil
	}
	if err := os.Link(prev, dst); err != nil {
		return false, err
	}
	c.linked[keyOf(&pst)] = keyOf(st)
	return true, nil
}

// copyData copies only the data segments of in, and skips zero blocks
// within them, so sparse files stay sparse; the final truncate restores
// any trailing hole.
func (c *copier) copyData(out, in *os.File, size int64) error {
	fd := int(in.Fd())
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) { // only a hole remains
			break
		}
		if err != nil {
			return &os.PathError{Op: "seek data", Path: in.Name(), Err: err}
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return &os.PathError{Op: "seek hole", Path: in.Name(), Err: err}
		}
		end := min(hole, size)
		if err := c.copyRange(out, in, data, end); errors.Is(err, io.EOF) { // shrank meanwhile
			break
		} else if err != nil {
			return err
		}
		off = end
	}
	return out.Truncate(size)
}

func (c *copier) copyRange(out, in *os.File, from, to int64) error {
	for off := from; off < to; {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		n, err := in.ReadAt(c.buf[:min(int64(len(c.buf)), to-off)], off)
		if werr := writeNonZero(out, c.buf[:n], off); werr != nil {
			return werr
		}
		c.count(int64(n))
		if err != nil {
			return err
		}
		off += int64(n)
	}
	return nil
}

func (c *copier) count(n int64) {
	c.n += n
	if c.progress != nil && time.Since(c.last) >= progressInterval {
		c.last = time.Now()
		c.progress(c.n)
	}
}

// writeNonZero writes b at off except its all-zero blocks, which it leaves
// as holes: a filesystem that reports no holes reports a sparse file as all
// data.
func writeNonZero(out *os.File, b []byte, off int64) error {
	start := -1 // of the pending run of non-zero blocks
	flush := func(end int) error {
		_, err := out.WriteAt(b[start:end], off+int64(start))
		start = -1
		return err
	}
	for i := 0; i < len(b); i += blockSize {
		zero := allZero(b[i:min(i+blockSize, len(b))])
		if !zero && start < 0 {
			start = i
		}
		if zero && start >= 0 {
			if err := flush(i); err != nil {
				return err
			}
		}
	}
	if start >= 0 {
		return flush(len(b))
	}
	return nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// setMeta gives dst src's owner, mode, xattrs and times, in that order:
// chown clears setuid bits and file capabilities, and times go last so
// that nothing bumps them afterwards.
func setMeta(src, dst string, st *unix.Stat_t) error {
	// Without root, files cannot be given away; like cp -a, keep going.
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil && !(errors.Is(err, unix.EPERM) && os.Geteuid() != 0) {
		return &os.PathError{Op: "lchown", Path: dst, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return &os.PathError{Op: "chmod", Path: dst, Err: err}
		}
	}
	if err := copyXattrs(src, dst); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimes", Path: dst, Err: err}
	}
	return nil
}

// xattrs reads path's user.* and security.* extended attributes (not
// trusted.*, which needs privileges a backup should not rely on).
func xattrs(path string) (map[string][]byte, error) {
	size, err := unix.Llistxattr(path, nil)
	if errors.Is(err, unix.ENOTSUP) || size == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, &os.PathError{Op: "listxattr", Path: path, Err: err}
	}
	list := make([]byte, size)
	if size, err = unix.Llistxattr(path, list); err != nil {
		return nil, &os.PathError{Op: "listxattr", Path: path, Err: err}
	}
	m := map[string][]byte{}
	for name := range strings.SplitSeq(string(list[:size]), "\x00") {
		if !strings.HasPrefix(name, "user.") && !strings.HasPrefix(name, "security.") {
			continue
		}
		n, err := unix.Lgetxattr(path, name, nil)
		if err == nil {
			v := make([]byte, n)
			n, err = unix.Lgetxattr(path, name, v)
			m[name] = v[:n]
		}
		if err != nil && !errors.Is(err, unix.ENODATA) { // ENODATA: removed meanwhile
			return nil, fmt.Errorf("getxattr %s %s: %w", path, name, err)
		}
	}
	return m, nil
}

// copyXattrs tolerates a destination without xattr support, Linux refusing
// user.* on symlinks, and security.* needing privileges the caller lacks.
func copyXattrs(src, dst string) error {
	m, err := xattrs(src)
	if err != nil {
		return err
	}
	for name, v := range m {
		err := unix.Lsetxattr(dst, name, v, 0)
		if err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("setxattr %s %s: %w", dst, name, err)
		}
	}
	return nil
}

// isSubvolume reports whether path is a dirfs subvolume: it has a sidecar.
func isSubvolume(path string) bool {
	_, err := os.Lstat(sidecarPath(path))
	return err == nil
}

// isSidecarIn reports whether name in dir is the sidecar of a directory
// there: subvolume metadata, not content, so a copy leaves it out.
func isSidecarIn(dir, name string) bool {
	subject, ok := strings.CutPrefix(name, ".")
	if !ok {
		return false
	}
	if subject, ok = strings.CutSuffix(subject, sidecarSuffix); !ok {
		return false
	}
	fi, err := os.Lstat(filepath.Join(dir, subject))
	return err == nil && fi.IsDir()
}
