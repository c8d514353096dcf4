package dirfs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/providers/dirfs"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

var st dirfs.Storage

const MiB = 1 << 20

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func lstat(t *testing.T, path string) unix.Stat_t {
	t.Helper()
	var s unix.Stat_t
	if err := unix.Lstat(path, &s); err != nil {
		t.Fatalf("lstat %s: %v", path, err)
	}
	return s
}

type meta struct {
	UUID         string `json:"uuid"`
	ReceivedUUID string `json:"receivedUUID"`
	ReadOnly     bool   `json:"readOnly"`
}

func sidecarOf(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".drsync.json")
}

func readMeta(t *testing.T, path string) meta {
	t.Helper()
	b, err := os.ReadFile(sidecarOf(path))
	if err != nil {
		t.Fatal(err)
	}
	var m meta
	must(t, json.Unmarshal(b, &m))
	return m
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// sourceTree builds a tree exercising everything a restore checks and
// reports whether the filesystem took the user.test xattr.
func sourceTree(t *testing.T, src string) (xattrOK bool) {
	write(t, filepath.Join(src, "a/b/c/deep.txt"), []byte("deep"))
	write(t, filepath.Join(src, "empty"), nil)
	write(t, filepath.Join(src, "big"), random(t, 3*MiB))
	write(t, filepath.Join(src, "h1"), []byte("linked"))
	must(t, os.Link(filepath.Join(src, "h1"), filepath.Join(src, "h2")))

	sparse, err := os.Create(filepath.Join(src, "sparse"))
	must(t, err)
	must(t, sparse.Truncate(64*MiB))
	_, err = sparse.WriteAt([]byte("island"), 32*MiB)
	must(t, err)
	must(t, sparse.Close())

	must(t, os.Symlink("big", filepath.Join(src, "rel")))
	must(t, os.Symlink(filepath.Join(src, "big"), filepath.Join(src, "abs")))
	must(t, os.Symlink("nowhere", filepath.Join(src, "dangling")))
	must(t, os.Symlink("a", filepath.Join(src, "dirlink")))

	if os.Geteuid() == 0 {
		for _, n := range []string{"big", "empty", "dangling"} {
			must(t, os.Lchown(filepath.Join(src, n), 1234, 5678))
		}
	}
	must(t, os.Chmod(filepath.Join(src, "big"), 0o640))
	must(t, os.Chmod(filepath.Join(src, "empty"), 0o4711)) // setuid must survive the copy's chown
	must(t, os.Chmod(filepath.Join(src, "a/b"), 0o750))
	err = unix.Lsetxattr(filepath.Join(src, "big"), "user.test", []byte("kept"), 0)
	if err != nil && !errors.Is(err, unix.ENOTSUP) {
		t.Fatal(err)
	}
	xattrOK = err == nil

	// Distinct past mtimes, directories last (children would bump them).
	var dirs []string
	i := 0
	must(t, filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		i++
		ts := unix.NsecToTimespec(time.Date(2020, 1, 1, 0, 0, i, 123456789, time.UTC).UnixNano())
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
	}))
	for j := len(dirs) - 1; j >= 0; j-- {
		ts := unix.NsecToTimespec(time.Date(2019, 1, 1, 0, 0, j, 987654321, time.UTC).UnixNano())
		must(t, unix.UtimesNanoAt(unix.AT_FDCWD, dirs[j], []unix.Timespec{ts, ts}, 0))
	}
	return xattrOK
}

// assertSameTree checks that dst holds exactly src's entries with src's
// content, type, mode, owner, mtime, symlink targets and user.test xattr.
func assertSameTree(t *testing.T, src, dst string) {
	t.Helper()
	seen := map[string]bool{}
	must(t, filepath.WalkDir(src, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		seen[rel] = true
		q := filepath.Join(dst, rel)
		if !exists(q) {
			t.Errorf("%s missing from copy", rel)
			return nil
		}
		a, b := lstat(t, p), lstat(t, q)
		if a.Mode != b.Mode || a.Uid != b.Uid || a.Gid != b.Gid || a.Mtim != b.Mtim {
			t.Errorf("%s: mode %o uid %d gid %d mtime %v, copy has %o %d %d %v", rel,
				a.Mode, a.Uid, a.Gid, a.Mtim, b.Mode, b.Uid, b.Gid, b.Mtim)
		}
		switch a.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			x, _ := os.ReadFile(p)
			y, _ := os.ReadFile(q)
			if !bytes.Equal(x, y) {
				t.Errorf("%s: content differs", rel)
			}
		case unix.S_IFLNK:
			x, _ := os.Readlink(p)
			y, _ := os.Readlink(q)
			if x != y {
				t.Errorf("%s: symlink to %q, copy to %q", rel, x, y)
			}
		}
		x := make([]byte, 64)
		n1, err1 := unix.Lgetxattr(p, "user.test", x)
		y := make([]byte, 64)
		n2, err2 := unix.Lgetxattr(q, "user.test", y)
		if (err1 == nil) != (err2 == nil) || (err1 == nil && !bytes.Equal(x[:n1], y[:n2])) {
			t.Errorf("%s: user.test %q (%v), copy %q (%v)", rel, x[:max(n1, 0)], err1, y[:max(n2, 0)], err2)
		}
		return nil
	}))
	must(t, filepath.WalkDir(dst, func(p string, _ fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dst, p)
		if !seen[rel] {
			t.Errorf("copy has extra entry %s", rel)
		}
		return err
	}))
}

func TestSnapshotCopiesTree(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "data")
	xattrOK := sourceTree(t, src)
	dest := filepath.Join(root, "snaps/deep/data.20260101T0000")

	must(t, st.Snapshot(context.Background(), src, dest))

	assertSameTree(t, src, dest)
	t.Run("hardlinks", func(t *testing.T) {
		if lstat(t, filepath.Join(dest, "h1")).Ino != lstat(t, filepath.Join(dest, "h2")).Ino {
			t.Error("h1 and h2 are no longer one inode")
		}
	})
	t.Run("sparse", func(t *testing.T) {
		s := lstat(t, filepath.Join(dest, "sparse"))
		if s.Size != 64*MiB || s.Blocks*512 > 256<<10 {
			t.Errorf("sparse copy: size %d, %d bytes allocated", s.Size, s.Blocks*512)
		}
	})
	t.Run("symlinks not followed", func(t *testing.T) {
		for _, n := range []string{"rel", "abs", "dangling", "dirlink"} {
			if s := lstat(t, filepath.Join(dest, n)); s.Mode&unix.S_IFMT != unix.S_IFLNK {
				t.Errorf("%s is not a symlink in the copy", n)
			}
		}
	})
	t.Run("xattr", func(t *testing.T) {
		if !xattrOK {
			t.Skip("filesystem does not support user xattrs")
		}
		v := make([]byte, 16)
		n, err := unix.Lgetxattr(filepath.Join(dest, "big"), "user.test", v)
		if err != nil || string(v[:n]) != "kept" {
			t.Errorf("user.test = %q, %v", v[:max(n, 0)], err)
		}
	})
	t.Run("owner", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("chown to 1234:5678 needs root")
		}
		if s := lstat(t, filepath.Join(dest, "big")); s.Uid != 1234 || s.Gid != 5678 {
			t.Errorf("big owned by %d:%d", s.Uid, s.Gid)
		}
		if s := lstat(t, filepath.Join(dest, "dangling")); s.Uid != 1234 || s.Gid != 5678 {
			t.Errorf("dangling symlink owned by %d:%d", s.Uid, s.Gid)
		}
	})
	t.Run("sidecar", func(t *testing.T) {
		m := readMeta(t, dest)
		if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(m.UUID) ||
			!m.ReadOnly || m.ReceivedUUID != "" {
			t.Errorf("sidecar %+v", m)
		}
		if exists(filepath.Join(filepath.Dir(dest), ".data.20260101T0000.partial")) {
			t.Error("partial copy left behind")
		}
	})

	if err := st.Snapshot(context.Background(), src, dest); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("snapshot over an existing one: %v", err)
	}
}

// TestSnapshotInsideSource covers snapshots kept inside their source: like
// btrfs, earlier snapshots (nested subvolumes) appear as empty directories,
// and the copy never recurses into itself.
func TestSnapshotInsideSource(t *testing.T) {
	src := t.TempDir()
	write(t, filepath.Join(src, "file"), []byte("x"))
	first := filepath.Join(src, ".snapshots/data.1")
	must(t, st.Snapshot(context.Background(), src, first))
	second := filepath.Join(src, ".snapshots/data.2")
	must(t, st.Snapshot(context.Background(), src, second))

	nested := filepath.Join(second, ".snapshots")
	des, err := os.ReadDir(nested)
	must(t, err)
	if len(des) != 1 || des[0].Name() != "data.1" {
		t.Fatalf("second snapshot's .snapshots holds %v, want just data.1", des)
	}
	if inner, _ := os.ReadDir(filepath.Join(nested, "data.1")); len(inner) != 0 {
		t.Errorf("nested snapshot copied with %d entries, want an empty directory", len(inner))
	}
}

func TestCheckSource(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "file"), nil)
	must(t, st.CheckSource(dir))
	for path, want := range map[string]string{
		filepath.Join(dir, "missing"): "does not exist",
		filepath.Join(dir, "file"):    "is not a directory",
	} {
		if err := st.CheckSource(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckSource(%s) = %v, want %q", path, err, want)
		}
	}
}

func TestList(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "src")
	write(t, filepath.Join(src, "f"), []byte("x"))
	snaps := filepath.Join(root, "snaps")
	must(t, st.Snapshot(context.Background(), src, filepath.Join(snaps, "src.20260101T0000")))
	must(t, os.Mkdir(filepath.Join(snaps, "src.20260102T0000"), 0o755)) // no sidecar: foreign
	write(t, filepath.Join(snaps, "notes.txt"), nil)

	entries, err := st.List(snaps)
	must(t, err)
	got := map[string]model.Entry{}
	for _, e := range entries {
		got[e.Name] = e
	}
	if len(got) != 3 {
		t.Fatalf("List = %+v, want the snapshot, the plain directory and the file", entries)
	}
	if e := got["src.20260101T0000"]; !e.Subvolume || !e.ReadOnly || e.UUID == "" || e.ReceivedUUID != "" {
		t.Errorf("snapshot entry %+v", e)
	}
	if got["src.20260102T0000"].Subvolume || got["notes.txt"].Subvolume {
		t.Errorf("foreign entries reported as subvolumes: %+v", entries)
	}

	missing, err := st.List(filepath.Join(root, "nope"))
	if err != nil || len(missing) != 0 {
		t.Errorf("List(missing) = %v, %v", missing, err)
	}
}

func TestSendIncremental(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "src")
	for _, n := range []string{"one", "two", "three"} {
		write(t, filepath.Join(src, n), random(t, MiB))
	}
	write(t, filepath.Join(src, "sub/small"), []byte("before"))
	local, ext := filepath.Join(root, "snaps"), filepath.Join(root, "drive/snaps")
	s1, s2 := filepath.Join(local, "src.1"), filepath.Join(local, "src.2")
	must(t, st.Snapshot(context.Background(), src, s1))

	var reports []int64
	n, err := st.Send(context.Background(), s1, "", ext, func(b int64) { reports = append(reports, b) })
	must(t, err)
	if n != 3*MiB+6 {
		t.Errorf("full send copied %d bytes, want %d", n, 3*MiB+6)
	}
	if len(reports) == 0 || reports[len(reports)-1] > n {
		t.Errorf("progress reports %v for %d bytes", reports, n)
	}
	r1 := filepath.Join(ext, "src.1")
	assertSameTree(t, s1, r1)
	if m, l := readMeta(t, r1), readMeta(t, s1); m.ReceivedUUID != l.UUID || !m.ReadOnly || m.UUID == l.UUID || m.UUID == "" {
		t.Errorf("replica sidecar %+v for snapshot %+v", m, l)
	}

	changed := []byte("after, and longer")
	write(t, filepath.Join(src, "sub/small"), changed)
	// A metadata-only change must not be hardlinked either: the link
	// would share the new mode with the old replica.
	must(t, os.Chmod(filepath.Join(src, "three"), 0o600))
	must(t, st.Snapshot(context.Background(), src, s2))
	n, err = st.Send(context.Background(), s2, s1, ext, nil)
	must(t, err)
	if want := int64(len(changed) + MiB); n != want {
		t.Errorf("incremental send copied %d bytes, want %d", n, want)
	}
	r2 := filepath.Join(ext, "src.2")
	assertSameTree(t, s2, r2)
	for _, f := range []string{"one", "two"} {
		if lstat(t, filepath.Join(r1, f)).Ino != lstat(t, filepath.Join(r2, f)).Ino {
			t.Errorf("unchanged %s was copied, not hardlinked", f)
		}
	}
	for _, f := range []string{"three", "sub/small"} {
		if lstat(t, filepath.Join(r1, f)).Ino == lstat(t, filepath.Join(r2, f)).Ino {
			t.Errorf("changed %s hardlinked to the old replica", f)
		}
	}
	assertSameTree(t, s1, r1) // the old replica is untouched
	if m := readMeta(t, r2); m.ReceivedUUID != readMeta(t, s2).UUID || !m.ReadOnly {
		t.Errorf("replica sidecar %+v", m)
	}
}

func TestSendCancelled(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "src")
	write(t, filepath.Join(src, "big"), random(t, 3*MiB))
	snap := filepath.Join(root, "snaps/src.1")
	must(t, st.Snapshot(context.Background(), src, snap))
	ext := filepath.Join(root, "drive")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sawHalfReceived bool
	_, err := st.Send(ctx, snap, "", ext, func(int64) {
		entries, _ := st.List(ext)
		sawHalfReceived = len(entries) == 1 && entries[0].Subvolume && !entries[0].ReadOnly && entries[0].ReceivedUUID == ""
		cancel() // mid-file: the first report comes after the first chunk
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled send returned %v", err)
	}
	if !sawHalfReceived {
		t.Error("during the send, the replica did not look half-received")
	}
	if left, _ := os.ReadDir(ext); len(left) != 0 {
		t.Errorf("cancelled send left %v", left)
	}
}

func TestSendMissingParentReplica(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "src")
	write(t, filepath.Join(src, "f"), []byte("x"))
	s1, s2 := filepath.Join(root, "snaps/src.1"), filepath.Join(root, "snaps/src.2")
	must(t, st.Snapshot(context.Background(), src, s1))
	must(t, st.Snapshot(context.Background(), src, s2))
	ext := filepath.Join(root, "drive")

	_, err := st.Send(context.Background(), s2, s1, ext, nil)
	if err == nil || !strings.Contains(err.Error(), "cannot find parent subvolume") {
		t.Fatalf("send without the parent's replica: %v", err)
	}
	if exists(filepath.Join(ext, "src.2")) || exists(sidecarOf(filepath.Join(ext, "src.2"))) {
		t.Error("failed send left a replica")
	}
}

func TestProbe(t *testing.T) {
	mount := t.TempDir()
	const id = "6f1c2d7e-0000-4000-8000-000000000001"
	if d := st.Probe(schema.Location{Mount: mount, UUID: id}); d.Present || !strings.Contains(d.Reason, "no drive marker at "+mount) {
		t.Errorf("unmarked: %+v", d)
	}
	if d := st.Probe(schema.Location{Mount: filepath.Join(mount, "missing"), UUID: ""}); d.Present {
		t.Errorf("missing mount: %+v", d)
	}
	must(t, dirfs.MarkDrive(mount, id))
	for _, want := range []string{id, ""} {
		if d := st.Probe(schema.Location{Mount: mount, UUID: want}); !d.Present || d.UUID != id {
			t.Errorf("Probe(%q) = %+v", want, d)
		}
	}
	other := "6f1c2d7e-0000-4000-8000-000000000002"
	if d := st.Probe(schema.Location{Mount: mount, UUID: other}); d.Present || d.UUID != id || !strings.Contains(d.Reason, "not the declared "+other) {
		t.Errorf("wrong drive: %+v", d)
	}
}

func TestDelete(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "src")
	write(t, filepath.Join(src, "ro/f"), []byte("x"))
	must(t, os.Chmod(filepath.Join(src, "ro"), 0o555)) // needs the writable-first path without root
	t.Cleanup(func() { os.Chmod(filepath.Join(src, "ro"), 0o755) })
	snap := filepath.Join(root, "snaps/src.1")
	must(t, st.Snapshot(context.Background(), src, snap))

	must(t, st.Delete(context.Background(), snap))
	if left, _ := os.ReadDir(filepath.Dir(snap)); len(left) != 0 {
		t.Errorf("delete left %v", left)
	}
	if err := st.Delete(context.Background(), snap); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("deleting a missing snapshot: %v", err)
	}
}
