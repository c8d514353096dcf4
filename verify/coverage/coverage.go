// Package coverage cuts a tree into slices by a stable hash of each path
// and counts them from metadata alone, for restore tests that verify a
// whole copy slice by slice within a window. It reads no file content.
package coverage

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"golang.org/x/sys/unix"
)

// SliceOf is the slice of n that rel belongs to: the first 8 bytes of
// SHA-256(rel), big-endian, modulo n. It depends on the path alone, so a
// file keeps its slice whatever else is added, removed or renamed, and the
// n slices of a tree hold every file exactly once.
func SliceOf(rel string, n int) int {
	if n <= 1 {
		return 0
	}
	sum := sha256.Sum256([]byte(rel))
	return int(binary.BigEndian.Uint64(sum[:8]) % uint64(n))
}

// WalkNames calls fn for every regular file and symlink below root with
// its inode number, from the directory entries alone: no file is opened or
// stat'ed, so choosing a slice costs a listing of the tree. Directories
// are opened relative to their parent's fd with O_NOFOLLOW (any depth, no
// symlink followed) and the walk stays on root's device, as a snapshot
// holds no nested subvolume or mount. Unreadable directories do not stop
// the walk; they are returned joined in the error.
func WalkNames(root string, fn func(rel string, ino uint64)) error {
	return walkFiles(root, func(_ int, _ string, e fileEntry) { fn(e.rel, e.ino) })
}

// fileEntry is one file the walk found: its rel, inode number, and
// whether it is a symlink rather than a regular file.
type fileEntry struct {
	rel     string
	ino     uint64
	symlink bool
}

// walkFiles is WalkNames giving each file's directory fd (valid during
// the call) and name as well.
func walkFiles(root string, fn func(dirfd int, name string, e fileEntry)) error {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("walk %s: %w", root, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return fmt.Errorf("walk %s: %w", root, err)
	}
	w := nameWalker{dev: st.Dev, fn: fn, buf: make([]byte, 64<<10)}
	w.dir(fd, "")
	if err := errors.Join(w.errs...); err != nil {
		return fmt.Errorf("walk %s: %w", root, err)
	}
	return nil
}

type nameWalker struct {
	dev  uint64
	fn   func(dirfd int, name string, e fileEntry)
	buf  []byte
	errs []error
}

// dirent is what the walk needs of one linux_dirent64.
type dirent struct {
	name string
	ino  uint64
	typ  uint8
}

// dir lists the directory open as fd (rel rel), visits its files and
// descends into its subdirectories; it closes fd.
func (w *nameWalker) dir(fd int, rel string) {
	ents, err := w.list(fd)
	if err != nil {
		w.errs = append(w.errs, &fs.PathError{Op: "readdir", Path: rel, Err: err})
	}
	for _, e := range ents {
		erel := e.name
		if rel != "" {
			erel = rel + "/" + e.name
		}
		typ := e.typ
		if typ == unix.DT_UNKNOWN { // filesystems without d_type
			var st unix.Stat_t
			if err := unix.Fstatat(fd, e.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				w.errs = append(w.errs, &fs.PathError{Op: "lstat", Path: erel, Err: err})
				continue
			}
			typ = direntType(st.Mode)
		}
		switch typ {
		case unix.DT_REG, unix.DT_LNK:
			w.fn(fd, e.name, fileEntry{rel: erel, ino: e.ino, symlink: typ == unix.DT_LNK})
		case unix.DT_DIR:
			sub, err := unix.Openat(fd, e.name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				w.errs = append(w.errs, &fs.PathError{Op: "open", Path: erel, Err: err})
				continue
			}
			var st unix.Stat_t
			if err := unix.Fstat(sub, &st); err != nil || st.Dev != w.dev {
				unix.Close(sub)
				continue
			}
			w.dir(sub, erel)
		}
	}
	unix.Close(fd)
}

// list reads every entry of the directory fd with getdents64, which
// carries the inode number and type that os.ReadDir keeps to itself.
func (w *nameWalker) list(fd int) ([]dirent, error) {
	var out []dirent
	for {
		n, err := unix.Getdents(fd, w.buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return out, err
		}
		if n <= 0 {
			return out, nil
		}
		for b := w.buf[:n]; len(b) > 0; {
			// struct linux_dirent64 { u64 ino; s64 off; u16 reclen; u8 type; char name[]; }
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			name := b[19:reclen]
			if i := indexZero(name); i >= 0 {
				name = name[:i]
			}
			if s := string(name); s != "." && s != ".." {
				out = append(out, dirent{name: s, ino: binary.NativeEndian.Uint64(b[0:8]), typ: b[18]})
			}
			b = b[reclen:]
		}
	}
}

func indexZero(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

func direntType(mode uint32) uint8 {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return unix.DT_REG
	case unix.S_IFLNK:
		return unix.DT_LNK
	case unix.S_IFDIR:
		return unix.DT_DIR
	}
	return unix.DT_UNKNOWN
}

// Slice lists the files (regular files and symlinks) of slice k of n
// below root, sorted, without opening any of them.
func Slice(root string, k, n int) ([]string, error) {
	var rels []string
	err := WalkNames(root, func(rel string, _ uint64) {
		if SliceOf(rel, n) == k {
			rels = append(rels, rel)
		}
	})
	sort.Strings(rels)
	return rels, err
}

// SliceCount is one slice of a copy, counted from metadata alone.
type SliceCount struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"` // regular files' sizes
	// UnchangedFiles and UnchangedBytes count the slice's files whose
	// inode changed no later than the generation asked about.
	UnchangedFiles int   `json:"unchangedFiles,omitempty"`
	UnchangedBytes int64 `json:"unchangedBytes,omitempty"`
}

// InodeMeta gives a file's size and the filesystem generation that last
// changed it, by inode number, from the filesystem's own metadata (ok is
// false for an inode it does not know).
type InodeMeta func(ino uint64) (size int64, generation uint64, ok bool)

// CountSlices counts the files and bytes of each of n slices below root
// without reading any content. With meta, sizes and generations come from
// it and the files of slice k whose generation is at most since[k] (when
// since has that many entries and since[k] > 0) are counted as unchanged;
// without meta, sizes come from fstatat and nothing counts as unchanged.
func CountSlices(root string, n int, since []uint64, meta InodeMeta) ([]SliceCount, error) {
	counts := make([]SliceCount, max(n, 1))
	var statErrs []error
	err := walkFiles(root, func(dirfd int, name string, e fileEntry) {
		k := SliceOf(e.rel, n)
		c := &counts[k]
		c.Files++
		var size int64
		var gen uint64
		known := false
		if meta != nil {
			size, gen, known = meta(e.ino)
		} else {
			var st unix.Stat_t
			if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				statErrs = append(statErrs, &fs.PathError{Op: "lstat", Path: e.rel, Err: err})
				return
			}
			size = st.Size
		}
		if e.symlink {
			size = 0
		}
		c.Bytes += size
		if known && k < len(since) && since[k] > 0 && gen <= since[k] {
			c.UnchangedFiles++
			c.UnchangedBytes += size
		}
	})
	if err = errors.Join(err, errors.Join(statErrs...)); err != nil {
		return counts, fmt.Errorf("count slices of %s: %w", root, err)
	}
	return counts, nil
}
