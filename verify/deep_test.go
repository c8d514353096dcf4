package verify

import (
	"context"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/verify/internal/testtree"
	"github.com/drsync/drsync/verify/sample"
)

// TestPathsBeyondPathMaxOnBtrfs is issue 14 item 4: a file whose path is
// longer than PATH_MAX made every restore test fail. On real btrfs it is
// sampled, restored, verified against the tested snapshot and the
// reference, and compared in a full tree comparison; damage to it is found.
func TestPathsBeyondPathMaxOnBtrfs(t *testing.T) {
	mnt := sandbox.TestFS(t, 128)
	ctx := context.Background()
	src, snap, scratch := filepath.Join(mnt, "data"), filepath.Join(mnt, "snap"), filepath.Join(mnt, "scratch")
	if err := btrfs.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(src, "top.txt"), []byte("top"), 0o644)
	deep := testtree.MakeDeepTree(t, src, "deep", 2*unix.PathMax, mtime)
	if err := btrfs.Snapshot(ctx, src, snap); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(scratch, 0o700); err != nil {
		t.Fatal(err)
	}

	rels, err := sample.Paths(snap, 10, 1)
	if err != nil || !slices.Equal(rels, []string{deep, "top.txt"}) {
		t.Fatalf("sample of %d rels (%v): the deep file is not in it", len(rels), err)
	}
	results, err := TestFiles(ctx, snap, src, scratch, rels)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if len(r.Mismatches) > 0 || !slices.Contains(r.Checks, "sha256") || !slices.Contains(r.Checks, "reference:sha256") {
			t.Errorf("%.80s…: checks %v, mismatches %.400v", r.Rel, r.Checks, r.Mismatches)
		}
	}
	tree, err := CompareTrees(ctx, snap, src, nil)
	if err != nil || len(tree.Mismatches) > 0 || tree.Files != 2 {
		t.Fatalf("snapshot against its source: %d files, %.400v, %v", tree.Files, tree.Mismatches, err)
	}

	damageDeep(t, src, deep)
	tree, err = CompareTrees(ctx, snap, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	assertChecks(t, tree.Mismatches, [][2]string{{deep, "sha256"}})
	scratch2 := filepath.Join(mnt, "scratch2")
	if err := os.Mkdir(scratch2, 0o700); err != nil {
		t.Fatal(err)
	}
	results, err = TestFiles(ctx, snap, src, scratch2, []string{deep})
	if err != nil {
		t.Fatal(err)
	}
	assertChecks(t, results[0].Mismatches, [][2]string{{deep, "reference:sha256"}})
}

// damageDeep flips the first byte of root/rel, keeping its mtime, through
// directory fds (the path is too long to open).
func damageDeep(t *testing.T, root, rel string) {
	t.Helper()
	dir, err := openBeneath(root, path.Dir(rel))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dir)
	fd, err := unix.Openat(dir, path.Base(rel), unix.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.Pwrite(fd, []byte("D"), 0); err != nil {
		t.Fatal(err)
	}
	ts := unix.NsecToTimespec(mtime.UnixNano())
	if err := unix.UtimesNanoAt(dir, path.Base(rel), []unix.Timespec{ts, ts}, 0); err != nil {
		t.Fatal(err)
	}
}

// TestCompareTreesSymlinkAgainstDirectory: where one side has a directory
// and the other a symlink to one, the symlink is never followed: one type
// mismatch, nothing from beneath either.
func TestCompareTreesSymlinkAgainstDirectory(t *testing.T) {
	dir := t.TempDir()
	want, got, outside := filepath.Join(dir, "want"), filepath.Join(dir, "got"), filepath.Join(dir, "outside")
	writeFile(t, filepath.Join(want, "x", "f"), []byte("f"), 0o644)
	writeFile(t, filepath.Join(outside, "f"), []byte("f"), 0o644)
	writeFile(t, filepath.Join(outside, "secret"), []byte("s"), 0o600)
	if err := os.Mkdir(got, 0o755); err != nil {
		t.Fatal(err)
	}
	symlink(t, outside, filepath.Join(got, "x"))
	for _, root := range []string{want, got} {
		setMtime(t, root, mtime)
	}
	for _, pair := range [][2]string{{want, got}, {got, want}} {
		r, err := CompareTrees(context.Background(), pair[0], pair[1], nil)
		if err != nil {
			t.Fatal(err)
		}
		assertChecks(t, r.Mismatches, [][2]string{{"x", "type"}})
	}
}

// TestCompareTreesReadErrorOnOneSide: a directory or entry that only one
// side cannot read is a "read" failure with the error on that side. The
// comparison runs as nobody, so root's closed directories really refuse.
func TestCompareTreesReadErrorOnOneSide(t *testing.T) {
	dir := testtree.OpenTempDir(t)
	want, got := filepath.Join(dir, "want"), filepath.Join(dir, "got")
	for _, root := range []string{want, got} {
		writeFile(t, filepath.Join(root, "closed", "f"), []byte("f"), 0o644)
		writeFile(t, filepath.Join(root, "unsearchable", "g"), []byte("g"), 0o644)
	}
	if err := os.Chmod(filepath.Join(got, "closed"), 0o700); err != nil { // not listable
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(got, "unsearchable"), 0o744); err != nil { // listable, entries not reachable
		t.Fatal(err)
	}
	for _, p := range []string{"closed", "unsearchable", "."} {
		setMtime(t, filepath.Join(want, p), mtime)
		setMtime(t, filepath.Join(got, p), mtime)
	}
	var r TreeReport
	var err error
	testtree.AsNobody(t, func() { r, err = CompareTrees(context.Background(), want, got, nil) })
	if err != nil {
		t.Fatal(err)
	}
	assertChecks(t, r.Mismatches, [][2]string{
		{"closed", "mode"}, {"closed", "read"},
		{"unsearchable", "mode"}, {"unsearchable/g", "read"},
	})
	for _, m := range r.Mismatches {
		if m.Check == "read" && (m.Want != "" || !strings.Contains(m.Got, "permission denied")) {
			t.Errorf("%s: read error on the wrong side: want %q, got %q", m.Rel, m.Want, m.Got)
		}
	}
}

// TestDeepChain walks a chain of 3000 one-letter directories (6 KB of
// path): every level is listed and compared, nothing is a read error. The
// walks hold one descriptor per level, so depth is bounded by the open-file
// limit (Go raises the soft limit to the hard one at start), not PATH_MAX.
func TestDeepChain(t *testing.T) {
	const levels = 3000
	dir := testtree.FastTempDir(t) // removing 6000 directories from a disk takes seconds
	// rm walks a deep tree in linear time; os.RemoveAll rescans each level.
	t.Cleanup(func() { _ = exec.Command("rm", "-rf", filepath.Join(dir, "want"), filepath.Join(dir, "got")).Run() })
	for _, side := range []string{"want", "got"} {
		if err := os.Mkdir(filepath.Join(dir, side), 0o755); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Open(filepath.Join(dir, side), unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		for range levels {
			if err := unix.Mkdirat(fd, "d", 0o755); err != nil {
				t.Fatal(err)
			}
			next, err := unix.Openat(fd, "d", unix.O_RDONLY|unix.O_DIRECTORY, 0)
			unix.Close(fd)
			if err != nil {
				t.Fatal(err)
			}
			fd = next
		}
		f, err := unix.Openat(fd, "bottom.txt", unix.O_WRONLY|unix.O_CREAT, 0o644)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		unix.Write(f, []byte("bottom"))
		unix.Close(f)
	}
	rel := strings.Repeat("d/", levels) + "bottom.txt"
	s, err := sample.Paths(filepath.Join(dir, "want"), 5, 1)
	if err != nil || !slices.Equal(s, []string{rel}) {
		t.Fatalf("sample: %d rels, %.200v", len(s), err)
	}
	r, err := CompareTrees(context.Background(), filepath.Join(dir, "want"), filepath.Join(dir, "got"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Entries != levels+2 || r.Files != 1 {
		t.Errorf("compared %d entries, %d files; want %d and 1", r.Entries, r.Files, levels+2)
	}
	for _, m := range r.Mismatches {
		if m.Check != "mtime" { // the two chains were made at different instants
			t.Errorf("%.40s…: %s %.200s", m.Rel, m.Check, m.Got)
		}
	}
}
