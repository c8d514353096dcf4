package archive

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Verify proves an archive restorable: it checks the archive's SHA-256
// against the sidecar, extracts every member into scratch (which must be
// empty or missing; created 0700) restoring mode, owner, mtime, xattrs and
// symlinks, and re-reads every extracted regular file to check its size
// and its DRSYNC.sha256. Members are created only beneath scratch, through
// directories opened without following symlinks, so names that are
// absolute, contain "..", or pass through a symlink an earlier member made
// are refused, as are hardlinks to anything but an earlier regular file
// member. Damage is reported as Mismatches, not as an error; an error
// means Verify could not run at all, or ctx ended. Removing scratch is the
// caller's business, so a failed proof can be inspected.
func Verify(ctx context.Context, archivePath, scratch string) (Report, error) {
	f, err := os.Open(archivePath)
	if err != nil {
		return Report{}, fmt.Errorf("verify archive: %w", err)
	}
	defer f.Close()
	want, haveSum, err := readSidecar(archivePath)
	if err != nil {
		return Report{}, fmt.Errorf("verify archive %s: %w", archivePath, err)
	}
	root, err := openScratch(scratch)
	if err != nil {
		return Report{}, fmt.Errorf("verify archive %s: %w", archivePath, err)
	}
	defer unix.Close(root)

	// The archive is hashed as it is decompressed, then to its end, past
	// where gzip stopped reading: one pass over the file.
	sum := sha256.New()
	x := &extractor{ctx: ctx, root: root, files: map[string]bool{}, buf: make([]byte, chunkSize)}
	if err := x.run(io.TeeReader(f, sum)); err != nil {
		return x.rep, fmt.Errorf("verify archive %s: %w", archivePath, err)
	}
	if _, err := io.CopyBuffer(sum, f, x.buf); err != nil {
		return x.rep, fmt.Errorf("verify archive %s: %w", archivePath, err)
	}
	got := hex.EncodeToString(sum.Sum(nil))
	switch {
	case !haveSum:
		x.rep.Mismatches = append([]Mismatch{{Check: "missing-checksum", Got: got}}, x.rep.Mismatches...)
	case got != want:
		x.rep.Mismatches = append([]Mismatch{{Check: "checksum", Want: want, Got: got}}, x.rep.Mismatches...)
	}
	return x.rep, nil
}

// openScratch creates scratch 0700 if missing and opens it, refusing one
// with entries: a leftover file could pass for a restored one.
func openScratch(scratch string) (int, error) {
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return -1, fmt.Errorf("scratch: %w", err)
	}
	d, err := os.Open(scratch)
	if err != nil {
		return -1, fmt.Errorf("scratch: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if err != nil && err != io.EOF {
		return -1, fmt.Errorf("scratch: %w", err)
	}
	if len(names) > 0 {
		return -1, fmt.Errorf("scratch %s is not empty", scratch)
	}
	fd, err := unix.Dup(int(d.Fd()))
	if err != nil {
		return -1, &os.PathError{Op: "dup", Path: scratch, Err: err}
	}
	unix.CloseOnExec(fd)
	return fd, nil
}

// extractor restores members beneath root, recording damage in rep.
type extractor struct {
	ctx   context.Context
	root  int             // scratch, opened
	files map[string]bool // regular file members restored, for hardlinks
	dirs  []*tar.Header   // restored directories, whose metadata comes last
	rep   Report
	buf   []byte
}

func (x *extractor) bad(name, check, want, got string) {
	x.rep.Mismatches = append(x.rep.Mismatches, Mismatch{Path: name, Check: check, Want: want, Got: got})
}

// run extracts the archive read from r. A read error ends the extraction,
// since nothing after it in a gzip stream can be trusted to line up; the
// directories restored so far still get their metadata.
func (x *extractor) run(r io.Reader) error {
	defer x.finishDirs()
	gz, err := gzip.NewReader(r)
	if err != nil {
		x.bad("", "corrupt", "", err.Error())
		return nil
	}
	tr := tar.NewReader(gz)
	for {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) { // names are checked below
			x.bad("", "corrupt", "", err.Error())
			return nil
		}
		if ok, err := x.member(tr, hdr); err != nil || !ok {
			return err
		}
	}
	// gzip checks its CRC and length only at the end of its stream, which
	// tar, having found its end marker, does not read to.
	if _, err := io.CopyBuffer(io.Discard, gz, x.buf); err != nil {
		x.bad("", "corrupt", "", err.Error())
	}
	return nil
}

// member restores one member. ok is false when the archive could not be
// read further; err is set only when ctx ended.
func (x *extractor) member(tr *tar.Reader, hdr *tar.Header) (ok bool, err error) {
	name := strings.TrimSuffix(hdr.Name, "/")
	if !localName(name) {
		x.bad(hdr.Name, "path", "relative path without ..", hdr.Name)
		return true, nil
	}
	dirfd, base, err := x.parent(name)
	if err != nil {
		x.badParent(hdr.Name, err)
		return true, nil
	}
	defer x.release(dirfd)
	switch hdr.Typeflag {
	case tar.TypeReg:
		return x.file(tr, hdr, dirfd, base)
	case tar.TypeDir:
		err = unix.Mkdirat(dirfd, base, 0o700)
		if errors.Is(err, unix.EEXIST) { // made as a parent of an earlier member
			var st unix.Stat_t
			if err = unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
				err = unix.EEXIST
			}
		}
		if err == nil {
			x.dirs = append(x.dirs, hdr)
		}
	case tar.TypeSymlink:
		if err = unix.Symlinkat(hdr.Linkname, dirfd, base); err == nil {
			err = x.setMeta(-1, dirfd, base, hdr)
		}
	case tar.TypeLink:
		err = x.hardlink(hdr, dirfd, base)
	default:
		x.bad(hdr.Name, "extract", "file, directory, symlink or hardlink", fmt.Sprintf("type %q", hdr.Typeflag))
		return true, nil
	}
	if err != nil {
		x.bad(hdr.Name, "extract", "", err.Error())
	}
	return true, nil
}

// badParent reports a member whose directory could not be reached: through
// a symlink or a non-directory is unsafe, anything else a failed write.
func (x *extractor) badParent(name string, err error) {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		x.bad(name, "path", "no symlink or file among parent directories", err.Error())
		return
	}
	x.bad(name, "extract", "", err.Error())
}

// hardlink links to an earlier regular file member: only those are known
// to lie beneath scratch and to be what the archive says they are.
func (x *extractor) hardlink(hdr *tar.Header, dirfd int, base string) error {
	if !x.files[hdr.Linkname] {
		x.bad(hdr.Name, "path", "hardlink to an earlier regular file", hdr.Linkname)
		return nil
	}
	oldfd, oldbase, err := x.parent(hdr.Linkname)
	if err != nil {
		return err
	}
	defer x.release(oldfd)
	if err := unix.Linkat(oldfd, oldbase, dirfd, base, 0); err != nil {
		return fmt.Errorf("link %s: %w", hdr.Linkname, err)
	}
	x.files[hdr.Name] = true
	x.rep.Files++
	x.rep.Members = append(x.rep.Members, hdr.Name)
	return nil
}

// file restores a regular file, then reads it back: the proof is about
// what landed on disk, not what the stream said.
func (x *extractor) file(tr *tar.Reader, hdr *tar.Header, dirfd int, base string) (bool, error) {
	fd, err := unix.Openat(dirfd, base, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		x.bad(hdr.Name, "extract", "", fmt.Sprintf("create: %v", err))
		return true, nil
	}
	out := os.NewFile(uintptr(fd), hdr.Name)
	defer out.Close()
	for {
		if err := x.ctx.Err(); err != nil {
			return false, err
		}
		n, rerr := tr.Read(x.buf)
		if _, err := out.Write(x.buf[:n]); err != nil {
			x.bad(hdr.Name, "extract", "", err.Error())
			return true, nil // tar skips the rest of this member
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			x.bad(hdr.Name, "corrupt", "", rerr.Error())
			return false, nil
		}
	}
	x.rep.Files++
	x.rep.Members = append(x.rep.Members, hdr.Name)
	fi, err := out.Stat()
	if err != nil {
		x.bad(hdr.Name, "extract", "", err.Error())
		return true, nil
	}
	x.rep.Bytes += fi.Size()
	if fi.Size() != hdr.Size {
		x.bad(hdr.Name, "size", fmt.Sprint(hdr.Size), fmt.Sprint(fi.Size()))
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(h, io.NewSectionReader(out, 0, fi.Size()), x.buf); err != nil {
		x.bad(hdr.Name, "extract", "", fmt.Sprintf("read back: %v", err))
		return true, nil
	}
	if got, want := hex.EncodeToString(h.Sum(nil)), hdr.PAXRecords[paxSHA256]; got != want {
		x.bad(hdr.Name, "sha256", want, got)
	}
	if err := x.setMeta(fd, dirfd, base, hdr); err != nil {
		x.bad(hdr.Name, "extract", "", err.Error())
		return true, nil
	}
	x.files[hdr.Name] = true
	return true, nil
}

// finishDirs gives directories their metadata once nothing more is
// written in them, deepest last-seen first: their mode may forbid the
// writes, and every write would bump their mtime.
func (x *extractor) finishDirs() {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		hdr := x.dirs[i]
		if err := x.finishDir(hdr); err != nil {
			x.bad(hdr.Name, "extract", "", err.Error())
		}
	}
}

func (x *extractor) finishDir(hdr *tar.Header) error {
	dirfd, base, err := x.parent(strings.TrimSuffix(hdr.Name, "/"))
	if err != nil {
		return err
	}
	defer x.release(dirfd)
	fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer unix.Close(fd)
	return x.setMeta(fd, dirfd, base, hdr)
}

// setMeta gives base in dirfd (also open as fd, or -1 for a symlink) the
// member's owner, mode, xattrs and mtime, in that order: chown clears
// setuid bits and file capabilities, and the mtime goes last so that
// nothing bumps it afterwards.
func (x *extractor) setMeta(fd, dirfd int, base string, hdr *tar.Header) error {
	var err error
	if fd >= 0 {
		err = unix.Fchown(fd, hdr.Uid, hdr.Gid)
	} else {
		err = unix.Fchownat(dirfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW)
	}
	// Without root, files cannot be given away; like tar, keep going.
	if err != nil && !(errors.Is(err, unix.EPERM) && os.Geteuid() != 0) {
		return fmt.Errorf("chown: %w", err)
	}
	if fd >= 0 {
		if err := unix.Fchmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if err := setXattrs(dirfd, base, hdr.PAXRecords); err != nil {
		return err
	}
	mtime := unix.Timespec{Sec: hdr.ModTime.Unix(), Nsec: int64(hdr.ModTime.Nanosecond())}
	ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, mtime}
	if err := unix.UtimesNanoAt(dirfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("utimes: %w", err)
	}
	return nil
}

// parent opens the directory holding name beneath root, creating missing
// ones 0700 as tar does, and never following a symlink: an intermediate
// symlink or file fails with ELOOP or ENOTDIR. The caller releases it.
func (x *extractor) parent(name string) (dirfd int, base string, err error) {
	dir, base := path.Split(name)
	cur := x.root
	if dir == "" {
		return cur, base, nil
	}
	for comp := range strings.SplitSeq(strings.TrimSuffix(dir, "/"), "/") {
		next, err := unix.Openat(cur, comp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			if err = unix.Mkdirat(cur, comp, 0o700); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = unix.Openat(cur, comp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
		x.release(cur)
		if err != nil {
			return -1, "", fmt.Errorf("open %s: %w", comp, err)
		}
		cur = next
	}
	return cur, base, nil
}

// release closes a directory parent opened, which may be root itself.
func (x *extractor) release(fd int) {
	if fd != x.root {
		unix.Close(fd)
	}
}
