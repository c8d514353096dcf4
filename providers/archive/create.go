package archive

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// level trades size for speed: service data is often already compressed
// (TSDB chunks) and a backup window matters more than a few percent.
const level = gzip.BestSpeed

type devIno struct{ dev, ino uint64 }

func keyOf(st *unix.Stat_t) devIno { return devIno{uint64(st.Dev), st.Ino} }

// Create writes dest (a .tar.gz) from sources atomically: into a temp file
// ".<base>.tmp-*" in dest's directory, fsync, rename, then the .sha256
// sidecar, also through a temp file and rename. A stale sidecar is removed
// before the rename, so an interruption leaves an archive without a
// checksum rather than one whose checksum calls it damaged. Directories
// are walked without following symlinks. A file that changes while being
// read is an error (retrying is the caller's business). Cancelling ctx
// removes the temp file; nothing partial ever has dest's name. dest must
// end in .tar.gz, and source names must be clean relative paths that
// neither repeat nor nest, so that no member overwrites another.
func Create(ctx context.Context, dest string, sources []Source) (Result, error) {
	if err := checkSources(dest, sources); err != nil {
		return Result{}, fmt.Errorf("create archive %s: %w", dest, err)
	}
	dir, base := filepath.Split(dest)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return Result{}, fmt.Errorf("create archive: %w", err)
	}
	res, err := write(ctx, f, sources)
	if err == nil {
		err = ctx.Err() // a cancelled Create must not publish, even if done
	}
	if err == nil {
		err = publish(f.Name(), dest)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return Result{}, fmt.Errorf("create archive %s: %w", dest, err)
	}
	res.Path = dest
	if err := writeFileAtomic(dest+sumExt, sidecarLine(res.SHA256, dest)); err != nil {
		return Result{}, fmt.Errorf("create archive %s: %w", dest, err)
	}
	if err := syncDir(dir); err != nil {
		return Result{}, fmt.Errorf("create archive %s: %w", dest, err)
	}
	return res, nil
}

// checkSources refuses names Verify would refuse, and names that collide
// or nest, which would make one source overwrite part of another.
func checkSources(dest string, sources []Source) error {
	if !strings.HasSuffix(dest, ext) {
		return fmt.Errorf("destination must end in %s", ext)
	}
	if len(sources) == 0 {
		return errors.New("no sources")
	}
	for i, s := range sources {
		if !localName(s.Name) {
			return fmt.Errorf("source %s: name %q is not a clean relative path", s.Path, s.Name)
		}
		for _, t := range sources[:i] {
			if s.Name == t.Name || strings.HasPrefix(s.Name, t.Name+"/") || strings.HasPrefix(t.Name, s.Name+"/") {
				return fmt.Errorf("source names %q and %q overlap", t.Name, s.Name)
			}
		}
	}
	return nil
}

// hashCounter hashes and counts the compressed stream as it is written,
// so the archive's checksum costs no second read.
type hashCounter struct {
	h hash.Hash
	n int64
}

func (c *hashCounter) Write(p []byte) (int, error) {
	c.h.Write(p)
	c.n += int64(len(p))
	return len(p), nil
}

// write fills f with the archive and closes it, synced.
func write(ctx context.Context, f *os.File, sources []Source) (Result, error) {
	var self unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &self); err != nil {
		return Result{}, &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	sum := &hashCounter{h: sha256.New()}
	bw := bufio.NewWriterSize(io.MultiWriter(f, sum), chunkSize)
	gz, err := gzip.NewWriterLevel(bw, level)
	if err != nil {
		return Result{}, err
	}
	w := &walker{
		ctx:   ctx,
		tw:    tar.NewWriter(gz),
		self:  keyOf(&self),
		links: map[devIno]string{},
		buf:   make([]byte, chunkSize),
	}
	for _, s := range sources {
		if err := w.add(s.Path, s.Name); err != nil {
			return Result{}, err
		}
	}
	if err := w.tw.Close(); err != nil {
		return Result{}, err
	}
	if err := gz.Close(); err != nil {
		return Result{}, err
	}
	if err := bw.Flush(); err != nil {
		return Result{}, err
	}
	if err := f.Sync(); err != nil {
		return Result{}, err
	}
	if err := f.Close(); err != nil {
		return Result{}, err
	}
	w.res.Bytes, w.res.SHA256 = sum.n, hex.EncodeToString(sum.h.Sum(nil))
	return w.res, nil
}

// walker adds files to the tar stream, stopping between files and
// between chunks when ctx ends.
type walker struct {
	ctx   context.Context
	tw    *tar.Writer
	self  devIno            // the temp file, in case a source contains it
	links map[devIno]string // inode of a hardlinked file → its first member
	res   Result
	buf   []byte
}

// add stores the file or tree at p as the member name.
func (w *walker) add(p, name string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: p, Err: err}
	}
	if keyOf(&st) == w.self {
		return nil
	}
	hdr := &tar.Header{
		Name:       name,
		Mode:       int64(st.Mode & 0o7777),
		Uid:        int(st.Uid),
		Gid:        int(st.Gid),
		ModTime:    time.Unix(st.Mtim.Unix()),
		Format:     tar.FormatPAX,
		PAXRecords: map[string]string{},
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return w.addDir(p, hdr)
	case unix.S_IFLNK:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
		return w.writeHeader(p, hdr)
	case unix.S_IFREG:
		if first, ok := w.links[keyOf(&st)]; ok {
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
			w.res.Files++
			return w.writeHeader(p, hdr)
		}
		if err := w.addFile(p, hdr, &st); err != nil {
			return err
		}
		if st.Nlink > 1 {
			w.links[keyOf(&st)] = name
		}
		return nil
	default:
		w.res.Skipped = append(w.res.Skipped, name)
		return nil
	}
}

func (w *walker) writeHeader(p string, hdr *tar.Header) error {
	if err := readXattrs(p, hdr.PAXRecords); err != nil {
		return err
	}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// addDir stores the directory before its entries, which come sorted so
// that equal trees give equal archives.
func (w *walker) addDir(p string, hdr *tar.Header) error {
	name := hdr.Name
	hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
	if err := w.writeHeader(p, hdr); err != nil {
		return err
	}
	des, err := os.ReadDir(p)
	if err != nil {
		return err
	}
	for _, de := range des {
		if err := w.add(filepath.Join(p, de.Name()), name+"/"+de.Name()); err != nil {
			return err
		}
	}
	return nil
}

// addFile stores a regular file with its SHA-256 in the header. The header
// precedes the content, so a file larger than one chunk is read twice: to
// hash it, then to store it; a second hash that differs means the file
// changed in between. Smaller files are stored from the first read.
func (w *walker) addFile(p string, hdr *tar.Header, st *unix.Stat_t) error {
	// O_NONBLOCK: should p have been swapped for a FIFO since the lstat,
	// the open must not hang; the inode check below then refuses it.
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var opened unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &opened); err != nil {
		return &os.PathError{Op: "fstat", Path: p, Err: err}
	}
	if keyOf(&opened) != keyOf(st) {
		return fmt.Errorf("%s: replaced while being read", p)
	}
	n, err := io.ReadFull(f, w.buf)
	small := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	if err != nil && !small {
		return err
	}
	h := sha256.New()
	h.Write(w.buf[:n])
	size := int64(n)
	if !small {
		m, err := w.copy(h, f)
		if err != nil {
			return err
		}
		size += m
	}
	if size != st.Size {
		return fmt.Errorf("%s: changed while being read: size %d, read %d bytes", p, st.Size, size)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	hdr.Typeflag, hdr.Size, hdr.PAXRecords[paxSHA256] = tar.TypeReg, size, sum
	if err := w.writeHeader(p, hdr); err != nil {
		return err
	}
	w.res.Files++
	if small {
		_, err := w.tw.Write(w.buf[:n])
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	h.Reset()
	if m, err := w.copy(io.MultiWriter(w.tw, h), io.LimitReader(f, size)); err != nil {
		return err
	} else if m != size {
		return fmt.Errorf("%s: changed while being read: size %d, read %d bytes", p, size, m)
	}
	if hex.EncodeToString(h.Sum(nil)) != sum || !atEOF(f) {
		return fmt.Errorf("%s: changed while being read", p)
	}
	return nil
}

// copy copies r to dst chunk by chunk, checking ctx in between.
func (w *walker) copy(dst io.Writer, r io.Reader) (int64, error) {
	var n int64
	for {
		if err := w.ctx.Err(); err != nil {
			return n, err
		}
		m, err := r.Read(w.buf)
		if m > 0 {
			if _, werr := dst.Write(w.buf[:m]); werr != nil {
				return n, werr
			}
			n += int64(m)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// atEOF reports whether f has nothing left to read: a file that grew
// while being stored is not the file its header describes.
func atEOF(f *os.File) bool {
	var b [1]byte
	n, _ := f.Read(b[:])
	return n == 0
}

// publish renames the finished temp file to dest. A stale sidecar goes
// first: until the new one is written, dest has none.
func publish(tmp, dest string) error {
	// Never over an existing archive: it may be the last verified copy.
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("%s already exists", dest)
	}
	if err := os.Remove(dest + sumExt); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dest, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) { // a filesystem without renameat2 flags: the check above stands
		err = os.Rename(tmp, dest)
	}
	return err
}

// writeFileAtomic gives path the content s, synced, through a temp file
// and a rename, so a reader never sees a partial sidecar.
func writeFileAtomic(path, s string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
