package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const testUID, testGID = 1234, 5678

// buildTree makes a source tree exercising everything an archive keeps,
// with distinct nanosecond mtimes, and returns it.
func buildTree(t *testing.T, parent string) string {
	t.Helper()
	root := filepath.Join(parent, "svc")
	mkdir := func(rel string, mode os.FileMode) {
		p := filepath.Join(root, rel)
		must(t, os.Mkdir(p, 0o700))
		must(t, os.Chmod(p, mode))
	}
	file := func(rel string, data []byte, mode uint32) {
		p := filepath.Join(root, rel)
		must(t, os.WriteFile(p, data, 0o600))
		own(t, p)
		must(t, unix.Chmod(p, mode)) // after chown, which clears setuid
	}
	mkdir("", 0o755)
	mkdir("etc", 0o750)
	mkdir("etc/nested", 0o755)
	mkdir("etc/nested/deeper", 0o700)
	file("etc/app.conf", []byte("listen = :9090\n"), 0o600)
	must(t, unix.Setxattr(filepath.Join(root, "etc/app.conf"), "user.comment", []byte("keep me\x00binary"), 0))
	file("etc/nested/deeper/empty", nil, 0o644)
	big := make([]byte, 5<<20)
	rand.Read(big)
	file("big.bin", big, 0o644)
	file("suid", []byte("#!/bin/sh\n"), 0o4755)
	file("exec", []byte("#!/bin/sh\n"), 0o755)
	file("hard1", []byte("shared inode"), 0o640)
	must(t, os.Link(filepath.Join(root, "hard1"), filepath.Join(root, "hard2")))
	must(t, os.Symlink("etc/app.conf", filepath.Join(root, "rel")))
	must(t, os.Symlink("/etc/hostname", filepath.Join(root, "abs")))
	must(t, os.Symlink("does/not/exist", filepath.Join(root, "dangling")))
	for _, rel := range []string{"", "etc", "etc/nested", "rel", "dangling"} {
		own(t, filepath.Join(root, rel))
	}
	// Deepest first, so that setting one mtime does not bump another's.
	var paths []string
	must(t, filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	}))
	for i, p := range slices.Backward(paths) {
		ts := unix.NsecToTimespec(time.Date(2024, 5, 6, 7, 8, 9, 123456789+i, time.UTC).UnixNano())
		must(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW))
	}
	return root
}

// own gives p the test owner, which only root can.
func own(t *testing.T, p string) {
	if os.Geteuid() == 0 {
		must(t, os.Lchown(p, testUID, testGID))
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot describes a tree by relative path: everything a restore must
// bring back.
type node struct {
	mode        uint32
	uid, gid    uint32
	mtime       unix.Timespec
	size        int64
	sum, target string
	xattrs      string
	ino, nlink  uint64
}

func snapshot(t *testing.T, root string) map[string]node {
	t.Helper()
	out := map[string]node{}
	must(t, filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		must(t, unix.Lstat(p, &st))
		n := node{mode: st.Mode, uid: st.Uid, gid: st.Gid, mtime: st.Mtim, ino: st.Ino, nlink: uint64(st.Nlink)}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			must(t, err)
			n.size, n.sum = st.Size, hexSum(b)
		case unix.S_IFLNK:
			n.target, err = os.Readlink(p)
			must(t, err)
		}
		rec := map[string]string{}
		must(t, readXattrs(p, rec))
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range rec {
				if !yield(k) {
					return
				}
			}
		}) {
			n.xattrs += k + "=" + rec[k] + ";"
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = n
		return nil
	}))
	return out
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func checks(rep Report) []string {
	var out []string
	for _, m := range rep.Mismatches {
		out = append(out, m.Check)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	tmp := t.TempDir()
	src := buildTree(t, tmp)
	db := filepath.Join(tmp, "grafana.db")
	must(t, os.WriteFile(db, []byte("SQLite format 3\x00"), 0o640))
	dest := filepath.Join(tmp, "out", "svc-2024.tar.gz")
	must(t, os.Mkdir(filepath.Dir(dest), 0o700))

	res, err := Create(context.Background(), dest, []Source{{Path: src, Name: "data/svc"}, {Path: db, Name: "grafana.db"}})
	must(t, err)
	// app.conf, empty, big.bin, suid, exec, hard1, hard2, grafana.db
	if res.Files != 8 || res.Path != dest || len(res.Skipped) != 0 {
		t.Errorf("result = %+v, want 8 files, no skips", res)
	}
	archive, err := os.ReadFile(dest)
	must(t, err)
	if res.Bytes != int64(len(archive)) || res.SHA256 != hexSum(archive) {
		t.Errorf("result bytes %d sha %s, archive has %d bytes sha %s", res.Bytes, res.SHA256, len(archive), hexSum(archive))
	}
	side, err := os.ReadFile(dest + sumExt)
	must(t, err)
	if want := hexSum(archive) + "  svc-2024.tar.gz\n"; string(side) != want {
		t.Errorf("sidecar = %q, want %q", side, want)
	}
	if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("archive mode = %v, %v; want 0600", fi.Mode(), err)
	}

	scratch := filepath.Join(tmp, "scratch")
	rep, err := Verify(context.Background(), dest, scratch)
	must(t, err)
	if len(rep.Mismatches) != 0 || rep.Files != 8 || rep.Bytes != 5<<20+15+10+10+12+16 {
		t.Fatalf("verify = %+v, want 8 files and no mismatches", rep)
	}
	if fi, err := os.Stat(scratch); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("scratch mode = %v, %v; want 0700", fi.Mode(), err)
	}

	want, got := snapshot(t, src), snapshot(t, filepath.Join(scratch, "data/svc"))
	for rel, w := range want {
		g, ok := got[rel]
		if !ok {
			t.Errorf("%s: not restored", rel)
			continue
		}
		w.ino, g.ino = 0, 0
		if w != g {
			t.Errorf("%s:\n got %+v\nwant %+v", rel, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("restored %d entries, want %d", len(got), len(want))
	}
	if h1, h2 := got["hard1"], got["hard2"]; h1.ino != h2.ino || h1.nlink != 2 {
		t.Errorf("hard1/hard2 not restored as one inode: %+v %+v", h1, h2)
	}
	if got["suid"].mode&unix.S_ISUID == 0 || got["etc/app.conf"].xattrs == "" {
		t.Errorf("setuid or xattr lost: %+v %+v", got["suid"], got["etc/app.conf"])
	}
	if os.Geteuid() == 0 && (got["rel"].uid != testUID || got["big.bin"].gid != testGID) {
		t.Errorf("owner lost: %+v %+v", got["rel"], got["big.bin"])
	}
	b, err := os.ReadFile(filepath.Join(scratch, "grafana.db"))
	if err != nil || string(b) != "SQLite format 3\x00" {
		t.Errorf("grafana.db = %q, %v", b, err)
	}

	// Sums reads what each file's checksum was, hardlinks included.
	sums, err := Sums(context.Background(), dest)
	must(t, err)
	if len(sums) != 8 || sums["grafana.db"] != hexSum(b) || sums["data/svc/hard2"] != sums["data/svc/hard1"] || sums["data/svc/hard1"] == "" {
		t.Errorf("Sums = %v, want 8 members, grafana.db's %s, the hardlinks alike", sums, hexSum(b))
	}
}

func TestCreateSkipsSpecialFiles(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "run")
	must(t, os.Mkdir(src, 0o755))
	must(t, unix.Mkfifo(filepath.Join(src, "fifo"), 0o600))
	l, err := net.Listen("unix", filepath.Join(src, "sock"))
	must(t, err)
	defer l.Close()
	must(t, os.WriteFile(filepath.Join(src, "pid"), []byte("1\n"), 0o644))
	dest := filepath.Join(tmp, "run.tar.gz")
	res, err := Create(context.Background(), dest, []Source{{Path: src, Name: "run"}})
	must(t, err)
	if !slices.Equal(res.Skipped, []string{"run/fifo", "run/sock"}) || res.Files != 1 {
		t.Errorf("result = %+v, want fifo and sock skipped, 1 file", res)
	}
	rep, err := Verify(context.Background(), dest, filepath.Join(tmp, "scratch"))
	if err != nil || len(rep.Mismatches) != 0 {
		t.Errorf("verify = %+v, %v", rep, err)
	}
}

func TestCreateArchiveInsideSource(t *testing.T) {
	tmp := t.TempDir()
	must(t, os.WriteFile(filepath.Join(tmp, "conf"), []byte("x"), 0o644))
	dest := filepath.Join(tmp, "self.tar.gz")
	res, err := Create(context.Background(), dest, []Source{{Path: tmp, Name: "dir"}})
	must(t, err)
	if res.Files != 1 {
		t.Errorf("files = %d, want 1: the archive being written must not archive itself", res.Files)
	}
}

func TestCreateRejectsBadNames(t *testing.T) {
	tmp := t.TempDir()
	for _, srcs := range [][]Source{
		nil,
		{{Path: tmp, Name: ""}},
		{{Path: tmp, Name: "../up"}},
		{{Path: tmp, Name: "/abs"}},
		{{Path: tmp, Name: "a//b"}},
		{{Path: tmp, Name: "a"}, {Path: tmp, Name: "a"}},
		{{Path: tmp, Name: "a"}, {Path: tmp, Name: "a/b"}},
	} {
		if _, err := Create(context.Background(), filepath.Join(tmp, "x.tar.gz"), srcs); err == nil {
			t.Errorf("Create(%+v) succeeded", srcs)
		}
	}
	if _, err := Create(context.Background(), filepath.Join(tmp, "x.zip"), []Source{{Path: tmp, Name: "a"}}); err == nil {
		t.Error("Create of a non-.tar.gz succeeded")
	}
	assertOnly(t, tmp)
}

// assertOnly fails unless dir holds exactly names: no archive and no temp
// file was left behind.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	must(t, err)
	var got []string
	for _, de := range des {
		got = append(got, de.Name())
	}
	if !slices.Equal(got, names) {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

// cancelAfter ends after a number of Err calls, so a test can cancel
// Create at a known point, and records what dest's directory held then.
type cancelAfter struct {
	context.Context
	left   atomic.Int32
	dir    string
	atStop []fs.FileInfo
}

func (c *cancelAfter) Err() error {
	n := c.left.Add(-1)
	if n >= 0 {
		return nil
	}
	if n == -1 {
		des, _ := os.ReadDir(c.dir)
		for _, de := range des {
			fi, _ := de.Info()
			c.atStop = append(c.atStop, fi)
		}
	}
	return context.Canceled
}

func TestCreateCancelled(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	must(t, os.Mkdir(src, 0o755))
	big := make([]byte, 32<<20)
	rand.Read(big)
	must(t, os.WriteFile(filepath.Join(src, "block"), big, 0o644))
	out := filepath.Join(tmp, "out")
	must(t, os.Mkdir(out, 0o755))
	ctx := &cancelAfter{Context: context.Background(), dir: out}
	// Two checks before the file, 32 while hashing it, then 20 chunks in.
	ctx.left.Store(2 + 32 + 20)
	_, err := Create(ctx, filepath.Join(out, "svc.tar.gz"), []Source{{Path: src, Name: "src"}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if len(ctx.atStop) != 1 || !strings.HasPrefix(ctx.atStop[0].Name(), ".svc.tar.gz.tmp-") || ctx.atStop[0].Size() < 10<<20 {
		t.Fatalf("at cancellation %s held %v, want one temp file with data", out, ctx.atStop)
	}
	assertOnly(t, out)
}

func TestCreateChangedSource(t *testing.T) {
	tmp := t.TempDir()
	// procfs reports size 0 and reads back more: a file that changed size
	// between its header and its content.
	dest := filepath.Join(tmp, "proc.tar.gz")
	_, err := Create(context.Background(), dest, []Source{{Path: "/proc/self/status", Name: "status"}})
	if err == nil || !strings.Contains(err.Error(), "changed while being read") {
		t.Fatalf("err = %v, want changed while being read", err)
	}
	assertOnly(t, tmp)
}

// goodArchive creates an archive of a small tree and returns its path.
func goodArchive(t *testing.T, tmp string) string {
	t.Helper()
	src := filepath.Join(tmp, "src")
	must(t, os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	data := make([]byte, 3<<20)
	rand.Read(data)
	must(t, os.WriteFile(filepath.Join(src, "sub", "data"), data, 0o644))
	must(t, os.WriteFile(filepath.Join(src, "small"), []byte("hello"), 0o644))
	dest := filepath.Join(tmp, "good.tar.gz")
	_, err := Create(context.Background(), dest, []Source{{Path: src, Name: "src"}})
	must(t, err)
	return dest
}

func TestVerifyFlippedByte(t *testing.T) {
	tmp := t.TempDir()
	dest := goodArchive(t, tmp)
	b, err := os.ReadFile(dest)
	must(t, err)
	b[len(b)/2] ^= 0x40
	must(t, os.WriteFile(dest, b, 0o600))
	rep, err := Verify(context.Background(), dest, filepath.Join(tmp, "scratch"))
	must(t, err)
	got := checks(rep)
	if len(got) < 2 || got[0] != "checksum" || !(slices.Contains(got, "corrupt") || slices.Contains(got, "sha256")) {
		t.Errorf("checks = %q (%+v), want checksum then corrupt or sha256", got, rep.Mismatches)
	}
}

func TestVerifyTruncated(t *testing.T) {
	tmp := t.TempDir()
	dest := goodArchive(t, tmp)
	b, err := os.ReadFile(dest)
	must(t, err)
	writeWithSidecar(t, dest, b[:len(b)/2])
	rep, err := Verify(context.Background(), dest, filepath.Join(tmp, "scratch"))
	must(t, err)
	if got := checks(rep); !slices.Equal(got, []string{"corrupt"}) {
		t.Errorf("checks = %q (%+v), want corrupt only: the sidecar matches", got, rep.Mismatches)
	}
}

func TestVerifyMissingSidecar(t *testing.T) {
	tmp := t.TempDir()
	dest := goodArchive(t, tmp)
	must(t, os.Remove(dest+sumExt))
	rep, err := Verify(context.Background(), dest, filepath.Join(tmp, "scratch"))
	must(t, err)
	if got := checks(rep); !slices.Equal(got, []string{"missing-checksum"}) || rep.Files != 2 {
		t.Errorf("report = %+v, want only missing-checksum, 2 files", rep)
	}
}

func TestVerifyBadSidecar(t *testing.T) {
	tmp := t.TempDir()
	dest := goodArchive(t, tmp)
	must(t, os.WriteFile(dest+sumExt, []byte("garbage\n"), 0o600))
	rep, err := Verify(context.Background(), dest, filepath.Join(tmp, "scratch"))
	must(t, err)
	if got := checks(rep); !slices.Equal(got, []string{"checksum"}) || rep.Mismatches[0].Want != "garbage" {
		t.Errorf("report = %+v, want a checksum mismatch showing the sidecar", rep)
	}
}

func TestVerifyScratchNotEmpty(t *testing.T) {
	tmp := t.TempDir()
	dest := goodArchive(t, tmp)
	scratch := filepath.Join(tmp, "scratch")
	must(t, os.MkdirAll(filepath.Join(scratch, "leftover"), 0o700))
	if _, err := Verify(context.Background(), dest, scratch); err == nil {
		t.Error("Verify into a non-empty scratch succeeded")
	}
}

func TestVerifyCancelled(t *testing.T) {
	tmp := t.TempDir()
	dest := goodArchive(t, tmp)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Verify(ctx, dest, filepath.Join(tmp, "scratch")); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// member is one entry of a crafted archive.
type member struct {
	hdr  tar.Header
	data string
}

// craft writes members as a .tar.gz with a correct sidecar: the archive
// is intact, only its content lies.
func craft(t *testing.T, path string, members ...member) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, m := range members {
		h := m.hdr
		h.Format, h.Size, h.ModTime = tar.FormatPAX, int64(len(m.data)), time.Unix(1700000000, 0)
		if h.Typeflag == tar.TypeReg && h.PAXRecords == nil {
			h.PAXRecords = map[string]string{paxSHA256: hexSum([]byte(m.data))}
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		must(t, tw.WriteHeader(&h))
		_, err := tw.Write([]byte(m.data))
		must(t, err)
	}
	must(t, tw.Close())
	must(t, gz.Close())
	writeWithSidecar(t, path, buf.Bytes())
}

func writeWithSidecar(t *testing.T, path string, b []byte) {
	t.Helper()
	must(t, os.WriteFile(path, b, 0o600))
	must(t, os.WriteFile(path+sumExt, []byte(sidecarLine(hexSum(b), path)), 0o600))
}

func reg(name, data string) member {
	return member{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name}, data: data}
}

func TestVerifyMemberSHA256(t *testing.T) {
	tmp := t.TempDir()
	dest := filepath.Join(tmp, "lie.tar.gz")
	bad := reg("db/wal", "tampered")
	bad.hdr.PAXRecords = map[string]string{paxSHA256: hexSum([]byte("original"))}
	craft(t, dest, reg("db/ok", "fine"), bad)
	rep, err := Verify(context.Background(), dest, filepath.Join(tmp, "scratch"))
	must(t, err)
	want := []Mismatch{{Path: "db/wal", Check: "sha256", Want: hexSum([]byte("original")), Got: hexSum([]byte("tampered"))}}
	if !slices.Equal(rep.Mismatches, want) || rep.Files != 2 {
		t.Errorf("report = %+v, want %+v", rep, want)
	}
}

func TestVerifyUnsafeNames(t *testing.T) {
	tmp := t.TempDir()
	work := filepath.Join(tmp, "work")
	must(t, os.Mkdir(work, 0o700))
	dest := filepath.Join(tmp, "evil.tar.gz")
	abs := filepath.Join(tmp, "abs-evil")
	_, etcErr := os.Lstat("/etc/x")
	craft(t, dest,
		reg("../evil", "x"),
		reg("/etc/x", "x"),
		reg(abs, "x"),
		reg("a/../../evil2", "x"),
		reg("ok", "fine"),
	)
	rep, err := Verify(context.Background(), dest, filepath.Join(work, "scratch"))
	must(t, err)
	if got := checks(rep); !slices.Equal(got, []string{"path", "path", "path", "path"}) || rep.Files != 1 {
		t.Errorf("report = %+v, want 4 path mismatches and ok restored", rep)
	}
	assertOnly(t, work, "scratch")
	assertOnly(t, tmp, "evil.tar.gz", "evil.tar.gz.sha256", "work")
	if _, err := os.Lstat("/etc/x"); etcErr != nil && err == nil {
		t.Error("/etc/x was written")
	}
}

func TestVerifySymlinkEscape(t *testing.T) {
	tmp := t.TempDir()
	outside := filepath.Join(tmp, "outside")
	must(t, os.Mkdir(outside, 0o755))
	must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600))
	dest := filepath.Join(tmp, "escape.tar.gz")
	craft(t, dest,
		member{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "link", Linkname: outside}},
		reg("link/file", "through the link"),
		member{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "over", Linkname: filepath.Join(outside, "over")}},
		reg("over", "over the link"),
		member{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "hl", Linkname: "link/secret"}},
		member{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "hl2", Linkname: "../outside/secret"}},
	)
	rep, err := Verify(context.Background(), dest, filepath.Join(tmp, "scratch"))
	must(t, err)
	want := []struct{ path, check string }{{"link/file", "path"}, {"over", "extract"}, {"hl", "path"}, {"hl2", "path"}}
	if len(rep.Mismatches) != len(want) {
		t.Fatalf("mismatches = %+v, want %v", rep.Mismatches, want)
	}
	for i, w := range want {
		if m := rep.Mismatches[i]; m.Path != w.path || m.Check != w.check {
			t.Errorf("mismatch %d = %+v, want %v", i, m, w)
		}
	}
	assertOnly(t, outside, "secret")
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "s" {
		t.Errorf("secret = %q", b)
	}
	if target, err := os.Readlink(filepath.Join(tmp, "scratch", "link")); err != nil || target != outside {
		t.Errorf("link = %q, %v; want the symlink itself restored", target, err)
	}
}

func TestList(t *testing.T) {
	tmp := t.TempDir()
	if got, err := List(filepath.Join(tmp, "missing")); err != nil || len(got) != 0 {
		t.Errorf("List(missing) = %v, %v; want empty", got, err)
	}
	for name, size := range map[string]int{
		"b.tar.gz": 3, "b.tar.gz.sha256": 1, "a.tar.gz": 2,
		".c.tar.gz.tmp-123": 9, ".d.tar.gz": 9, "notes.txt": 1, "x.tar": 1, "y.tar.gz.sha256": 1,
	} {
		must(t, os.WriteFile(filepath.Join(tmp, name), make([]byte, size), 0o600))
	}
	must(t, os.Mkdir(filepath.Join(tmp, "dir.tar.gz"), 0o700))
	must(t, os.Symlink("a.tar.gz", filepath.Join(tmp, "link.tar.gz")))
	got, err := List(tmp)
	must(t, err)
	want := []Entry{{Name: "a.tar.gz", Size: 2}, {Name: "b.tar.gz", Size: 3, HasChecksum: true}}
	if !slices.Equal(got, want) {
		t.Errorf("List = %+v, want %+v", got, want)
	}
}

func TestDelete(t *testing.T) {
	tmp := t.TempDir()
	dest := goodArchive(t, tmp)
	must(t, Delete(dest))
	assertOnly(t, tmp, "src")
	if err := Delete(dest); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Delete(missing) = %v, want ErrNotExist", err)
	}
	notes := filepath.Join(tmp, "notes.txt")
	must(t, os.WriteFile(notes, nil, 0o600))
	if err := Delete(notes); err == nil {
		t.Error("Delete of a non-archive succeeded")
	}
	assertOnly(t, tmp, "notes.txt", "src")
}

// TestCopy copies an archive as a replica: content and checksum arrive,
// the copy verifies, an existing archive is never replaced, and an
// archive that no longer matches its checksum is not copied.
func TestCopy(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("hello"), 0o644)
	arch := filepath.Join(dir, "local", "svc.20261122T0100.tar.gz")
	os.MkdirAll(filepath.Dir(arch), 0o755)
	if _, err := Create(context.Background(), arch, []Source{{Path: src, Name: "src"}}); err != nil {
		t.Fatal(err)
	}
	drive := filepath.Join(dir, "drive", "svc")
	n, err := Copy(context.Background(), arch, drive)
	if err != nil || n == 0 {
		t.Fatalf("copy: %d %v", n, err)
	}
	rep, err := Verify(context.Background(), filepath.Join(drive, filepath.Base(arch)), filepath.Join(dir, "scratch"))
	if err != nil || len(rep.Mismatches) != 0 {
		t.Fatalf("the copy does not verify: %+v %v", rep.Mismatches, err)
	}
	if _, err := Copy(context.Background(), arch, drive); err == nil {
		t.Error("copied over an existing archive")
	}
	f, _ := os.OpenFile(arch, os.O_RDWR, 0)
	f.WriteAt([]byte{0}, 10)
	f.Close()
	if _, err := Copy(context.Background(), arch, filepath.Join(dir, "drive2")); err == nil || !strings.Contains(err.Error(), "differs from its checksum") {
		t.Errorf("copied a damaged archive: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "drive2")); len(entries) != 0 {
		t.Errorf("a refused copy left files: %v", entries)
	}
}
