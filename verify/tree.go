package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// cmpBufSize is the per-side read size when comparing content. Two buffers
// of it per worker stay inside L2, so the byte comparison runs on cached data.
const cmpBufSize = 256 << 10

// TreeReport summarises a full-tree comparison.
type TreeReport struct {
	Entries    int        `json:"entries"` // paths present in both trees and compared
	Files      int        `json:"files"`   // regular files whose content was compared
	Bytes      int64      `json:"bytes"`   // content bytes read, both trees together
	Mismatches []Mismatch `json:"mismatches,omitempty"`
}

// CompareTrees compares every entry under want and got (files, directories,
// symlinks, the roots themselves): type, size, content, symlink target,
// mode, owner, mtime (directories too: btrfs receive and cp -a keep them),
// xattrs and, for files, the link count, so hardlinks must survive as well.
// An entry only on one side is one "missing" or "extra" mismatch; its
// subtree is not listed. Content is compared byte for byte, which is exact
// and cheaper than hashing both sides; only a differing file is hashed, to
// report both digests. A read error on either side is a "read" mismatch
// carrying the error in Want (want's side) or Got (got's side).
//
// Below the roots everything is opened relative to its directory's fd with
// O_NOFOLLOW, never by path: any depth works (paths beyond PATH_MAX too),
// and a symlink is compared as a symlink, never descended, even when the
// other side holds a directory of that name. Directories are walked by one
// goroutine and entries compared by GOMAXPROCS*2 workers; progress receives
// increments of bytes read, never concurrently. Cancelling ctx returns ctx's
// error and the partial report.
func CompareTrees(ctx context.Context, want, got string, progress func(bytes int64)) (TreeReport, error) {
	t := &treeCmp{ctx: ctx, want: want, got: got, progress: progress}
	var roots [2]int
	for i, root := range []string{want, got} {
		fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			if i == 1 {
				unix.Close(roots[0])
			}
			return TreeReport{}, fmt.Errorf("compare trees: %w", &fs.PathError{Op: "open", Path: root, Err: err})
		}
		roots[i] = fd
	}
	var wg sync.WaitGroup
	jobs := compareWorkers(ctx, &wg, t.entry)
	t.walk(roots, jobs)
	close(jobs)
	wg.Wait()
	sortMismatches(t.report.Mismatches)
	if err := ctx.Err(); err != nil {
		return t.report, fmt.Errorf("compare trees: %w", err)
	}
	return t.report, nil
}

type treeCmp struct {
	ctx       context.Context
	want, got string
	progress  func(int64)

	mu     sync.Mutex // guards report and serialises progress
	report TreeReport
}

// dirPair is a directory open on both sides. It is closed when the last
// job or pending subdirectory that needs it lets go, so the walk holds
// about one pair per level of depth, not one per directory seen.
type dirPair struct {
	fds  [2]int
	refs atomic.Int64
}

func newDirPair(fds [2]int) *dirPair {
	d := &dirPair{fds: fds}
	d.refs.Store(1)
	return d
}

func (d *dirPair) hold() *dirPair { d.refs.Add(1); return d }

func (d *dirPair) release() {
	if d != nil && d.refs.Add(-1) == 0 {
		unix.Close(d.fds[0])
		unix.Close(d.fds[1])
	}
}

// job is one name present on both sides of dir; a nil dir means the roots.
type job struct {
	dir  *dirPair
	name string
	rel  string
}

// pending is a directory on both sides, listed when the walk reaches it.
type pending struct {
	parent *dirPair
	name   string
	rel    string
}

func (t *treeCmp) add(ms ...Mismatch) {
	if len(ms) == 0 {
		return
	}
	t.mu.Lock()
	t.report.Mismatches = append(t.report.Mismatches, ms...)
	t.mu.Unlock()
}

// withoutRootMtime drops the roots' mtime mismatch: btrfs receive does
// not keep the received subvolume's top directory mtime. It creates each
// new inode under a temporary name ("o261-74-0") in that directory and
// renames it into place, and the stream carries no utimes for the top
// directory afterwards (an incremental stream of an unchanged top directory
// none at all), so a plain `btrfs send | btrfs receive` leaves it at the
// time of the receive. Every other directory's mtime is still compared.
func withoutRootMtime(ms []Mismatch) []Mismatch {
	return slices.DeleteFunc(ms, func(m Mismatch) bool { return m.Check == "mtime" })
}

// readMismatch reports a read error on one side or both, each error on the
// side it happened.
func readMismatch(rel string, werr, gerr error) Mismatch {
	m := Mismatch{Rel: rel, Check: "read"}
	if werr != nil {
		m.Want = werr.Error()
	}
	if gerr != nil {
		m.Got = gerr.Error()
	}
	return m
}

// walk lists directories on both sides depth first, reports one-sided
// names, and queues the names present on both for the workers.
func (t *treeCmp) walk(roots [2]int, jobs chan<- job) {
	if !t.send(jobs, job{rel: "."}) {
		unix.Close(roots[0])
		unix.Close(roots[1])
		return
	}
	stack := t.list(roots, [2]error{}, ".", nil, jobs)
	for len(stack) > 0 && t.ctx.Err() == nil {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		var fds [2]int
		var errs [2]error
		for i := range fds {
			fds[i], errs[i] = openDirAt(p.parent.fds[i], p.name)
		}
		p.parent.release()
		stack = t.list(fds, errs, p.rel, stack, jobs)
	}
	for _, p := range stack { // cancelled
		p.parent.release()
	}
}

func openDirAt(dirfd int, name string) (int, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open: %w", err)
	}
	return fd, nil
}

// list reads the directory rel, open on both sides as fds unless opening
// it failed (errs), and compares the names: one-sided names are reported,
// common ones queued as jobs, and common directories pushed onto stack.
// It takes ownership of the open fds.
func (t *treeCmp) list(fds [2]int, errs [2]error, rel string, stack []pending, jobs chan<- job) []pending {
	var names [2][]fs.DirEntry
	for i := range fds {
		if errs[i] == nil {
			names[i], errs[i] = readNames(fds[i])
			names[i] = withoutNestedSubvolumes(fds[i], names[i])
		}
	}
	if errs[0] != nil || errs[1] != nil {
		for i := range fds {
			if fds[i] >= 0 {
				unix.Close(fds[i])
			}
		}
		t.add(readMismatch(rel, errs[0], errs[1]))
		return stack
	}
	dir := newDirPair(fds)
	defer dir.release()
	w, g := names[0], names[1]
	for i, j := 0, 0; i < len(w) || j < len(g); {
		switch {
		case j == len(g) || i < len(w) && w[i].Name() < g[j].Name():
			t.add(Mismatch{Rel: path.Join(rel, w[i].Name()), Check: "missing"})
			i++
		case i == len(w) || g[j].Name() < w[i].Name():
			t.add(Mismatch{Rel: path.Join(rel, g[j].Name()), Check: "extra"})
			j++
		default:
			name := w[i].Name()
			erel := path.Join(rel, name)
			if !t.send(jobs, job{dir: dir.hold(), name: name, rel: erel}) {
				dir.release()
				return stack
			}
			// d_type on both sides: a symlink is never descended, and a
			// name that is a directory on one side only is a type
			// mismatch for its job, nothing to list.
			if w[i].IsDir() && g[j].IsDir() {
				stack = append(stack, pending{parent: dir.hold(), name: name, rel: erel})
			}
			i++
			j++
		}
	}
	return stack
}

// readNames lists the directory open as fd, sorted by name, through a
// duplicate of fd so that fd stays open for the jobs that use it.
func readNames(fd int) ([]fs.DirEntry, error) {
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, fmt.Errorf("dup: %w", err)
	}
	unix.CloseOnExec(dup)
	f := os.NewFile(uintptr(dup), ".")
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("readdir: %w", err)
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	return ents, nil
}

func (t *treeCmp) send(jobs chan<- job, j job) bool {
	select {
	case jobs <- j:
		return true
	case <-t.ctx.Done():
		return false
	}
}

// sides returns the paths through which a job's two entries are read:
// the roots by their own paths, anything below through its directory's
// fd (a /proc/self/fd path of one name, however deep the entry).
func (t *treeCmp) sides(j job) [2]string {
	if j.dir == nil {
		return [2]string{t.want, t.got}
	}
	return [2]string{procPath(j.dir.fds[0], j.name), procPath(j.dir.fds[1], j.name)}
}

// entry compares one path present in both trees.
func (t *treeCmp) entry(j job, bufs [2][]byte) {
	rel := j.rel
	var infos [2]FileInfo
	var errs [2]error
	fds := [2]int{-1, -1}
	for i, root := range [2]string{t.want, t.got} {
		if j.dir == nil {
			infos[i], _, errs[i] = lstatInfo(root, rel)
			continue
		}
		infos[i], fds[i], errs[i] = statAt(j.dir.fds[i], j.name, rel)
		if fds[i] >= 0 {
			defer unix.Close(fds[i])
		}
	}
	wi, gi := infos[0], infos[1]
	if errs[0] != nil || errs[1] != nil {
		t.add(readMismatch(rel, errs[0], errs[1]))
		return
	}
	ms := Compare(wi, gi)
	if j.dir == nil {
		ms = withoutRootMtime(ms)
	}
	var n int64
	if wi.Type == typeFile && gi.Type == typeFile {
		if wi.Nlink != gi.Nlink {
			ms = append(ms, Mismatch{Rel: rel, Check: "nlink",
				Want: strconv.FormatUint(wi.Nlink, 10), Got: strconv.FormatUint(gi.Nlink, 10)})
		}
		same := false
		var werr, gerr error
		if wi.Size == gi.Size {
			same, n, werr, gerr = t.sameContent(fds, wi.Size, bufs)
		}
		if werr != nil || gerr != nil {
			ms = append(ms, readMismatch(rel, werr, gerr))
		} else if !same && t.ctx.Err() == nil {
			ms = append(ms, contentMismatch(rel, t.sides(j)))
		}
	}
	t.mu.Lock()
	t.report.Entries++
	if wi.Type == typeFile && gi.Type == typeFile {
		t.report.Files++
	}
	t.report.Bytes += n
	t.report.Mismatches = append(t.report.Mismatches, ms...)
	t.mu.Unlock()
}

// statAt is lstatInfo for the entry name of the directory open as dirfd,
// with as few path lookups as it can: the stat is relative to dirfd, and a
// regular file is opened (its fd returned for the content comparison, -1
// for anything else) and its xattrs read through the fd. The rest, rarer,
// goes through lstatInfo's /proc path.
func statAt(dirfd int, name, rel string) (FileInfo, int, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return FileInfo{}, -1, &fs.PathError{Op: "lstat", Path: rel, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		fi, _, err := lstatInfo(procPath(dirfd, name), rel)
		return fi, -1, err
	}
	fi := infoOf(&st, rel)
	fd, err := openFileAt(dirfd, name, &st)
	if err != nil {
		return FileInfo{}, -1, err
	}
	if fi.Xattrs, err = readXattrs(xattrsByFd(fd)); err != nil {
		unix.Close(fd)
		return FileInfo{}, -1, &fs.PathError{Op: "listxattr", Path: rel, Err: err}
	}
	return fi, fd, nil
}

// readaheadWindow is the kernel's default readahead: for files no larger,
// asking for sequential readahead cannot change anything and costs a call.
const readaheadWindow = 128 << 10

// sameContent reads both open files in lockstep and compares the bytes; it
// returns the bytes read from both sides and each side's read error.
// Comparing is exact and cheaper than hashing both. (An mmap variant was
// tried: on a warm cache it saved little, and a page that fails its
// checksum under a mapping turns into a fault instead of an EIO.)
func (t *treeCmp) sameContent(fds [2]int, size int64, bufs [2][]byte) (same bool, total int64, werr, gerr error) {
	if size > readaheadWindow {
		for _, fd := range fds {
			// Doubles readahead on a cold cache; free on a warm one.
			_ = unix.Fadvise(fd, 0, 0, unix.FADV_SEQUENTIAL)
		}
	}
	for t.ctx.Err() == nil {
		a, aerr := readFull(fds[0], bufs[0])
		b, berr := readFull(fds[1], bufs[1])
		if aerr != nil || berr != nil {
			return false, total, aerr, berr
		}
		total += int64(a + b)
		t.advance(int64(a + b))
		if !bytes.Equal(bufs[0][:a], bufs[1][:b]) {
			return false, total, nil, nil
		}
		if a < len(bufs[0]) {
			return true, total, nil, nil
		}
	}
	return false, total, nil, nil
}

func (t *treeCmp) advance(n int64) {
	if t.progress != nil {
		t.mu.Lock()
		t.progress(n)
		t.mu.Unlock()
	}
}

// readFull fills b unless the file ends first.
func readFull(fd int, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := unix.Read(fd, b[n:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}

// contentMismatch hashes both files so the report carries both digests.
func contentMismatch(rel string, p [2]string) Mismatch {
	m := Mismatch{Rel: rel, Check: "sha256"}
	var errs [2]error
	for i, out := range []*string{&m.Want, &m.Got} {
		fd, err := unix.Open(p[i], unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			errs[i] = fmt.Errorf("open: %w", err)
			continue
		}
		*out, _, errs[i] = hashFd(fd)
		unix.Close(fd)
	}
	if errs[0] != nil || errs[1] != nil {
		return readMismatch(rel, errs[0], errs[1])
	}
	return m
}

// Inode numbers btrfs gives nested subvolumes: in a snapshot, an empty
// directory stands where a nested subvolume was (BTRFS_EMPTY_SUBVOL_DIR_OBJECTID);
// in a live tree, the name leads to that subvolume's own root directory.
const (
	emptySubvolDirIno = 2
	subvolRootIno     = 256
)

// withoutNestedSubvolumes drops the entries of the btrfs directory fd that
// are nested subvolumes. They are not this subvolume's data, and btrfs
// send leaves them out of its stream: a snapshot whose source holds its
// own snapshot directory (a home with its .snapshots inside) shows them,
// the replica received from it does not.
func withoutNestedSubvolumes(fd int, ents []fs.DirEntry) []fs.DirEntry {
	var sfs unix.Statfs_t
	var parent unix.Stat_t
	if unix.Fstatfs(fd, &sfs) != nil || sfs.Type != unix.BTRFS_SUPER_MAGIC || unix.Fstat(fd, &parent) != nil {
		return ents
	}
	out := ents[:0]
	for _, e := range ents {
		if e.IsDir() {
			var st unix.Stat_t
			if unix.Fstatat(fd, e.Name(), &st, unix.AT_SYMLINK_NOFOLLOW) == nil &&
				(st.Ino == emptySubvolDirIno || st.Ino == subvolRootIno && st.Dev != parent.Dev) {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}
