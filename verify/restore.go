package verify

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// openBeneath opens the directory root/rel for reading without following
// any symlink and without leaving root. openat2 makes the kernel enforce it;
// kernels older than 5.6 get the equivalent component-by-component walk. A
// rel longer than PATH_MAX is opened a piece at a time, each piece beneath
// the directory the previous one opened.
func openBeneath(root, rel string) (int, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: root, Err: err}
	}
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	for rest := rel; rest != ""; {
		piece := rest
		if len(piece) >= unix.PathMax {
			// Names are at most 255 bytes, so a '/' is always found.
			piece = piece[:strings.LastIndexByte(piece[:unix.PathMax-1], '/')]
		}
		next, err := unix.Openat2(fd, piece, &how)
		if errors.Is(err, unix.ENOSYS) {
			return walkBeneath(fd, rest, false)
		}
		unix.Close(fd)
		if err != nil {
			return -1, &fs.PathError{Op: "openat2", Path: piece, Err: err}
		}
		fd, rest = next, strings.TrimPrefix(rest[len(piece):], "/")
	}
	return fd, nil
}

// walkBeneath takes ownership of dirfd and opens rel below it one component
// at a time with O_NOFOLLOW, so no symlink (a pre-planted one included) is
// ever traversed; with mkdir it creates missing directories on the way.
// Callers have rejected ".." components, so the walk cannot climb out.
func walkBeneath(dirfd int, rel string, mkdir bool) (int, error) {
	for _, c := range strings.Split(rel, "/") {
		if c == "" || c == "." {
			continue
		}
		if mkdir {
			if err := unix.Mkdirat(dirfd, c, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
				unix.Close(dirfd)
				return -1, &fs.PathError{Op: "mkdir", Path: c, Err: err}
			}
		}
		next, err := unix.Openat(dirfd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(dirfd)
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: c, Err: err}
		}
		dirfd = next
	}
	return dirfd, nil
}

// Restore copies root/rel (a regular file or a symlink) to scratch/rel
// preserving content (holes stay holes), mode, owner, mtime and xattrs;
// symlinks are recreated from their target text, never followed. Xattrs the
// destination filesystem refuses (ENOTSUP) are skipped: comparing the result
// reports them. Missing parents are created inside scratch as plain 0755
// directories; scratch/rel itself must not exist.
//
// Safety: rel must be relative without "..", the source is read beneath root
// with symlinks refused, and every component under scratch is opened with
// O_NOFOLLOW and the file created with O_EXCL, so neither a symlink in the
// snapshot nor one planted in scratch can make Restore read or write outside.
func Restore(root, rel, scratch string) error {
	if err := restore(root, rel, scratch); err != nil {
		return fmt.Errorf("restore %s: %w", rel, err)
	}
	return nil
}

func restore(root, rel, scratch string) error {
	if err := checkRel(rel); err != nil {
		return err
	}
	src, err := openBeneath(root, path.Dir(rel))
	if err != nil {
		return err
	}
	defer unix.Close(src)
	scratchFd, err := unix.Open(scratch, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: scratch, Err: err}
	}
	dst, err := walkBeneath(scratchFd, path.Dir(rel), true)
	if err != nil {
		return err
	}
	defer unix.Close(dst)

	name := path.Base(rel)
	fi, st, err := lstatInfo(procPath(src, name), rel)
	if err != nil {
		return err
	}
	switch fi.Type {
	case typeFile:
		return restoreFile(src, dst, name, fi, st)
	case typeSymlink:
		if err = unix.Symlinkat(fi.Link, dst, name); err != nil {
			return &fs.PathError{Op: "symlink", Path: name, Err: err}
		}
		return setSymlinkAttrs(dst, name, fi)
	default:
		return fmt.Errorf("cannot restore a %s", fi.Type)
	}
}

// restoreFile creates name in dst (O_EXCL: never an existing file or a
// planted symlink) and sets its content and metadata on that descriptor.
func restoreFile(src, dst int, name string, fi FileInfo, st *unix.Stat_t) error {
	in, err := openFileAt(src, name, st)
	if err != nil {
		return err
	}
	defer unix.Close(in)
	out, err := unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &fs.PathError{Op: "create", Path: name, Err: err}
	}
	defer unix.Close(out)
	if err := copySparse(in, out, fi.Size); err != nil {
		return err
	}
	if err := SetAttrs(out, fi); err != nil {
		return &fs.PathError{Op: "set metadata", Path: name, Err: err}
	}
	return nil
}

// copySparse copies the data extents of in to out with read/write (never
// reflink or copy_file_range: a restore test must read every byte so the
// source's checksums are verified), leaving holes as holes.
func copySparse(in, out int, size int64) error {
	bp := hashBufs.Get().(*[]byte)
	defer hashBufs.Put(bp)
	buf := *bp
	for off := int64(0); off < size; {
		data, err := unix.Seek(in, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole remains
		}
		if err != nil {
			return fmt.Errorf("seek data: %w", err)
		}
		end, err := unix.Seek(in, data, unix.SEEK_HOLE)
		if err != nil {
			return fmt.Errorf("seek hole: %w", err)
		}
		for data < end {
			n, err := unix.Pread(in, buf[:min(int64(len(buf)), end-data)], data)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return fmt.Errorf("read: %w", err)
			}
			if n == 0 {
				break // shrank under us; the final compare will say so
			}
			if err := pwriteAll(out, buf[:n], data); err != nil {
				return err
			}
			data += int64(n)
		}
		off = end
	}
	if err := unix.Ftruncate(out, size); err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	return nil
}

func pwriteAll(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		n, err := unix.Pwrite(fd, b, off)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

// SetAttrs applies fi's metadata (owner, xattrs, mode, mtime) to the open
// file or directory fd, so nothing is looked up by name again. The order
// keeps each step from undoing another: chown clears setuid bits and
// capabilities, so it goes first; the mtime goes last. Xattrs the
// filesystem refuses (ENOTSUP) are skipped: comparing reports them.
func SetAttrs(fd int, fi FileInfo) error {
	if err := unix.Fchown(fd, int(fi.UID), int(fi.GID)); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	for k, v := range fi.Xattrs {
		if err := unix.Fsetxattr(fd, k, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("setxattr %s: %w", k, err)
		}
	}
	if err := unix.Fchmod(fd, unixMode(fi.Mode)); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	ts := unix.NsecToTimespec(fi.MtimeNs)
	if err := unix.UtimesNanoAt(fd, "", []unix.Timespec{ts, ts}, unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("utimes: %w", err)
	}
	return nil
}

// setSymlinkAttrs is SetAttrs for a symlink, which cannot be opened: every
// call names it in dirfd and acts on the link itself, never its target.
// Linux has no symlink modes.
func setSymlinkAttrs(dirfd int, name string, fi FileInfo) error {
	if err := unix.Fchownat(dirfd, name, int(fi.UID), int(fi.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "chown", Path: name, Err: err}
	}
	p := procPath(dirfd, name)
	for k, v := range fi.Xattrs {
		err := unix.Lsetxattr(p, k, []byte(v), 0)
		if err != nil && !errors.Is(err, unix.ENOTSUP) {
			return &fs.PathError{Op: "setxattr " + k, Path: name, Err: err}
		}
	}
	ts := unix.NsecToTimespec(fi.MtimeNs)
	if err := unix.UtimesNanoAt(dirfd, name, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "utimes", Path: name, Err: err}
	}
	return nil
}

// FileResult is the outcome of testing one sampled path. Checks against the
// reference tree are prefixed "reference:" in both Checks and Mismatches, so
// a bad restore and a replica that differs from its source stay apart.
type FileResult struct {
	Rel        string     `json:"path"`
	Bytes      int64      `json:"bytes"`  // content bytes verified (file size in the snapshot)
	Checks     []string   `json:"checks"` // names of the checks that passed
	Mismatches []Mismatch `json:"mismatches,omitempty"`
}

// TestFiles proves each rel restorable: it stats (and hashes) it in the
// snapshot, restores it into scratch, and compares the restored copy with the
// snapshot. With referenceRoot set (the local snapshot a replica was sent
// from) it also compares the snapshot with the reference. scratch must not
// already hold the rels; the restored copies stay there for inspection.
// Cancelling ctx stops between files and returns the results so far.
func TestFiles(ctx context.Context, snapshotRoot, referenceRoot, scratch string, rels []string) ([]FileResult, error) {
	results := make([]FileResult, 0, len(rels))
	for _, rel := range rels {
		if err := ctx.Err(); err != nil {
			return results, fmt.Errorf("test files: %w", err)
		}
		results = append(results, testFile(snapshotRoot, referenceRoot, scratch, rel))
	}
	return results, nil
}

func testFile(snapshotRoot, referenceRoot, scratch, rel string) FileResult {
	r := FileResult{Rel: rel}
	snap, err := Stat(snapshotRoot, rel)
	if err != nil {
		r.Mismatches = append(r.Mismatches, statFailure(rel, "", err))
		return r
	}
	if snap.Type == typeFile {
		r.Bytes = snap.Size
	}
	restored, err := restoreAndStat(snapshotRoot, rel, scratch)
	if err != nil {
		r.Mismatches = append(r.Mismatches, Mismatch{Rel: rel, Check: "restore", Got: err.Error()})
	} else {
		r.record("", snap, restored)
	}
	if referenceRoot == "" {
		return r
	}
	ref, err := Stat(referenceRoot, rel)
	if err != nil {
		r.Mismatches = append(r.Mismatches, statFailure(rel, "reference:", err))
		return r
	}
	r.record("reference:", ref, snap)
	return r
}

func restoreAndStat(root, rel, scratch string) (FileInfo, error) {
	if err := Restore(root, rel, scratch); err != nil {
		return FileInfo{}, err
	}
	return Stat(scratch, rel)
}

// record adds Compare's verdict for want/got under the given check prefix.
func (r *FileResult) record(prefix string, want, got FileInfo) {
	failed := map[string]bool{}
	for _, m := range Compare(want, got) {
		failed[m.Check] = true
		m.Check = prefix + m.Check
		r.Mismatches = append(r.Mismatches, m)
	}
	if failed["type"] {
		return
	}
	r.Checks = append(r.Checks, prefix+"type")
	for _, c := range checks(want, got) {
		if !failed[c.name] {
			r.Checks = append(r.Checks, prefix+c.name)
		}
	}
}

// statFailure turns a Stat error into "missing" when the path is absent and
// "read" otherwise (an unreadable file is exactly what bit rot looks like).
func statFailure(rel, prefix string, err error) Mismatch {
	if errors.Is(err, fs.ErrNotExist) {
		return Mismatch{Rel: rel, Check: prefix + "missing"}
	}
	return Mismatch{Rel: rel, Check: prefix + "read", Got: err.Error()}
}
