// Package verify is the engine of restore tests and drills: it samples files
// from a snapshot, restores them into scratch space, and compares everything a
// restore must preserve; for full drills it compares whole trees. Recovery is
// only proven by reading the data back, so every check here reads real bytes.
// It knows nothing about configuration or the CLI.
package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// FileInfo is everything a restore must preserve about one path.
type FileInfo struct {
	Rel     string      // path relative to the tree root, slash-separated
	Type    string      // "file", "dir", "symlink", "other"
	Size    int64       // bytes; only compared for files
	Mode    fs.FileMode // permission + setuid/setgid/sticky bits, no type bits
	UID     uint32
	GID     uint32
	MtimeNs int64
	Xattrs  map[string]string // every name the kernel lists, security.selinux included; raw values
	Link    string            // symlink target text
	SHA256  string            // hex, files only
	Nlink   uint64            // a tree property: compared by CompareTrees, not Compare
}

// Mismatch names a file and the check that failed.
type Mismatch struct {
	Rel string `json:"path"`
	// Check is one of "missing", "extra", "type", "size", "sha256", "mode",
	// "owner", "mtime", "xattr:<name>", "symlink", "read", plus "nlink"
	// (CompareTrees) and "restore" (TestFiles).
	Check string `json:"check"`
	// Want and Got are display values: octal modes, "uid:gid", RFC 3339
	// mtimes, Go-quoted xattr values ("(absent)" when the attribute is
	// not there), and for "read" the error on the side that failed.
	Want string `json:"want,omitempty"`
	Got  string `json:"got,omitempty"`
}

// absent is the display value of an xattr a side does not have; real
// values are quoted, so it cannot be mistaken for one.
const absent = "(absent)"

// Entry types as they appear in FileInfo.Type.
const (
	typeFile    = "file"
	typeDir     = "dir"
	typeSymlink = "symlink"
	typeOther   = "other"
)

// hashBufSize is the read size for hashing: large enough that syscall
// overhead vanishes next to SHA-256 throughput.
const hashBufSize = 1 << 20

var hashBufs = sync.Pool{New: func() any { b := make([]byte, hashBufSize); return &b }}

// Stat reads FileInfo for root/rel without following a final symlink, and
// hashes content for regular files. The parent is resolved beneath root with
// symlinks refused, so a snapshot cannot redirect the read outside itself.
func Stat(root, rel string) (FileInfo, error) {
	if err := checkRel(rel); err != nil {
		return FileInfo{}, err
	}
	dir, err := openBeneath(root, path.Dir(rel))
	if err != nil {
		return FileInfo{}, fmt.Errorf("stat %s: %w", rel, err)
	}
	defer unix.Close(dir)
	name := path.Base(rel)
	fi, st, err := lstatInfo(procPath(dir, name), rel)
	if err != nil {
		return FileInfo{}, fmt.Errorf("stat %s: %w", rel, err)
	}
	if fi.Type != typeFile {
		return fi, nil
	}
	fd, err := openFileAt(dir, name, st)
	if err != nil {
		return FileInfo{}, fmt.Errorf("stat %s: %w", rel, err)
	}
	defer unix.Close(fd)
	if fi.SHA256, _, err = hashFd(fd); err != nil {
		return FileInfo{}, fmt.Errorf("stat %s: read: %w", rel, err)
	}
	return fi, nil
}

// procPath names dirfd/name through /proc so that path-only syscalls
// (lstat, l*xattr) act on the entry beneath an already-resolved directory.
func procPath(dirfd int, name string) string {
	return "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + name
}

// openFileAt opens the regular file dirfd/name for reading, refusing a
// symlink, and checks it is still the inode st describes.
func openFileAt(dirfd int, name string, st *unix.Stat_t) (int, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	var now unix.Stat_t
	if err := unix.Fstat(fd, &now); err != nil {
		unix.Close(fd)
		return -1, &fs.PathError{Op: "fstat", Path: name, Err: err}
	}
	if now.Ino != st.Ino || now.Dev != st.Dev {
		unix.Close(fd)
		return -1, fmt.Errorf("%s was replaced while being read", name)
	}
	return fd, nil
}

// lstatInfo builds the FileInfo of p itself (never its symlink target),
// without content hash.
func lstatInfo(p, rel string) (FileInfo, *unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return FileInfo{}, nil, &fs.PathError{Op: "lstat", Path: rel, Err: err}
	}
	fi := infoOf(&st, rel)
	if fi.Type == typeSymlink {
		link, err := readlink(p)
		if err != nil {
			return FileInfo{}, nil, &fs.PathError{Op: "readlink", Path: rel, Err: err}
		}
		fi.Link = link
	}
	x, err := readXattrs(xattrsByPath(p))
	if err != nil {
		return FileInfo{}, nil, &fs.PathError{Op: "listxattr", Path: rel, Err: err}
	}
	fi.Xattrs = x
	return fi, &st, nil
}

// infoOf is the FileInfo that st alone gives: no symlink target, xattrs
// or hash.
func infoOf(st *unix.Stat_t, rel string) FileInfo {
	fi := FileInfo{
		Rel:     rel,
		Size:    st.Size,
		Mode:    modeOf(st.Mode),
		UID:     st.Uid,
		GID:     st.Gid,
		MtimeNs: st.Mtim.Nano(),
		Nlink:   uint64(st.Nlink),
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		fi.Type = typeFile
	case unix.S_IFDIR:
		fi.Type = typeDir
	case unix.S_IFLNK:
		fi.Type = typeSymlink
	default:
		fi.Type = typeOther
	}
	return fi
}

func readlink(p string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlink(p, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// xattrSource lists and reads the extended attributes of one entry: by
// path, never following a final symlink (l*xattr), or through a file
// already open (f*xattr), which spares a path lookup.
type xattrSource struct {
	list func(dest []byte) (int, error)
	get  func(name string, dest []byte) (int, error)
}

func xattrsByPath(p string) xattrSource {
	return xattrSource{
		list: func(dest []byte) (int, error) { return unix.Llistxattr(p, dest) },
		get:  func(name string, dest []byte) (int, error) { return unix.Lgetxattr(p, name, dest) },
	}
}

func xattrsByFd(fd int) xattrSource {
	return xattrSource{
		list: func(dest []byte) (int, error) { return unix.Flistxattr(fd, dest) },
		get:  func(name string, dest []byte) (int, error) { return unix.Fgetxattr(fd, name, dest) },
	}
}

// readXattrs returns all extended attributes of the entry; nil when there
// are none or the filesystem has no xattr support.
func readXattrs(src xattrSource) (map[string]string, error) {
	var stack [512]byte
	names := stack[:]
	n, err := src.list(names)
	for errors.Is(err, unix.ERANGE) {
		if n, err = src.list(nil); err == nil {
			names = make([]byte, n+64)
			n, err = src.list(names)
		}
	}
	if errors.Is(err, unix.ENOTSUP) || n == 0 && err == nil {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	x := map[string]string{}
	for _, name := range strings.Split(strings.TrimRight(string(names[:n]), "\x00"), "\x00") {
		v, err := getXattr(src, name)
		if errors.Is(err, unix.ENODATA) {
			continue // removed between list and get
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		x[name] = v
	}
	return x, nil
}

func getXattr(src xattrSource, name string) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := src.get(name, buf)
		if errors.Is(err, unix.ERANGE) {
			if n, err = src.get(name, nil); err != nil {
				return "", err
			}
			buf = make([]byte, n+64)
			continue
		}
		if err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
}

// hashFd streams fd through SHA-256 and returns the hex digest and the
// number of bytes read.
func hashFd(fd int) (string, int64, error) {
	bp := hashBufs.Get().(*[]byte)
	defer hashBufs.Put(bp)
	h := sha256.New()
	var total int64
	for {
		n, err := unix.Read(fd, *bp)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return "", total, err
		}
		if n == 0 {
			return hex.EncodeToString(h.Sum(nil)), total, nil
		}
		h.Write((*bp)[:n])
		total += int64(n)
	}
}

// specialBits pairs stat's setuid, setgid and sticky bits with Go's, for
// conversions both ways.
var specialBits = [...]struct {
	unix uint32
	mode fs.FileMode
}{{unix.S_ISUID, fs.ModeSetuid}, {unix.S_ISGID, fs.ModeSetgid}, {unix.S_ISVTX, fs.ModeSticky}}

func modeOf(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	for _, b := range specialBits {
		if m&b.unix != 0 {
			mode |= b.mode
		}
	}
	return mode
}

func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	for _, b := range specialBits {
		if m&b.mode != 0 {
			u |= b.unix
		}
	}
	return u
}

// Compare returns the mismatches between want and got (same Rel). A type
// difference makes every other check meaningless, so it is reported alone.
// Size and content are compared for files only (directory sizes are a
// filesystem detail), the target text for symlinks; mode, owner, mtime (ns)
// and each xattr name for everything.
func Compare(want, got FileInfo) []Mismatch {
	if want.Type != got.Type {
		return []Mismatch{{Rel: want.Rel, Check: "type", Want: want.Type, Got: got.Type}}
	}
	var ms []Mismatch
	for _, c := range checks(want, got) {
		if w, g := c.value(want), c.value(got); w != g {
			ms = append(ms, Mismatch{Rel: want.Rel, Check: c.name, Want: w, Got: g})
		}
	}
	return ms
}

type check struct {
	name  string
	value func(FileInfo) string
}

// checks lists what Compare verifies for this pair, in report order; it is
// also what a passing FileResult lists.
func checks(want, got FileInfo) []check {
	var cs []check
	switch want.Type {
	case typeFile:
		cs = append(cs,
			check{"size", func(f FileInfo) string { return strconv.FormatInt(f.Size, 10) }},
			check{"sha256", func(f FileInfo) string { return f.SHA256 }})
	case typeSymlink:
		cs = append(cs, check{"symlink", func(f FileInfo) string { return f.Link }})
	}
	cs = append(cs,
		check{"mode", func(f FileInfo) string { return fmt.Sprintf("%04o", unixMode(f.Mode)) }},
		check{"owner", func(f FileInfo) string { return fmt.Sprintf("%d:%d", f.UID, f.GID) }},
		check{"mtime", func(f FileInfo) string { return time.Unix(0, f.MtimeNs).UTC().Format(time.RFC3339Nano) }})
	names := map[string]bool{}
	for k := range want.Xattrs {
		names[k] = true
	}
	for k := range got.Xattrs {
		names[k] = true
	}
	sorted := make([]string, 0, len(names))
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		cs = append(cs, check{"xattr:" + k, func(f FileInfo) string {
			if v, ok := f.Xattrs[k]; ok {
				return strconv.Quote(v)
			}
			return absent
		}})
	}
	return cs
}

// checkRel rejects paths that could leave the tree: absolute, empty, or
// with any ".." component (even one that would stay inside).
func checkRel(rel string) error {
	if rel == "" || strings.HasPrefix(rel, "/") {
		return fmt.Errorf("path %q: must be relative to the tree root", rel)
	}
	for _, c := range strings.Split(rel, "/") {
		if c == ".." {
			return fmt.Errorf("path %q: contains ..", rel)
		}
	}
	return nil
}

// sortMismatches orders a report by path, then check, so that parallel
// workers give the same report for the same trees.
func sortMismatches(ms []Mismatch) {
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Rel != ms[j].Rel {
			return ms[i].Rel < ms[j].Rel
		}
		return ms[i].Check < ms[j].Check
	})
}
