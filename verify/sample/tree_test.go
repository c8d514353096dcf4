package sample

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/verify/internal/testtree"
)

// hostileTree fills a new subvolume on real btrfs with what a btree scan
// could get wrong, and returns a read-only snapshot of it (what drsync
// samples):
//   - hard links in one directory, across directories and at root, and one
//     file with 200 long names in one directory, more than one leaf's
//     INODE_REF holds, so btrfs stores the rest as INODE_EXTREFs;
//   - a tree deeper than PATH_MAX;
//   - names with newlines, spaces, backslashes, invalid UTF-8 and 255 bytes;
//   - a directory moved into one created after it (its files come before
//     their parent's name in inode order);
//   - symlinks (one to a directory), a fifo, sizes from 0 to 3 MiB, a
//     sparse file;
//   - a nested subvolume, which btrfs send and the sample leave out.
func hostileTree(t *testing.T) string {
	t.Helper()
	mnt := sandbox.TestFS(t, 256)
	src := filepath.Join(mnt, "src")
	btrfsCmd(t, "subvolume", "create", src)
	if _, err := sandbox.FillSampleData(src, 3); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(src, "top.bin"), make([]byte, 3<<20), 0o644)
	writeFile(t, filepath.Join(src, "a", "linked"), []byte("linked data"), 0o644)
	for _, l := range []string{"a/linked-again", "linked-at-root", "b/c/linked-deeper"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, l)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(filepath.Join(src, "a", "linked"), filepath.Join(src, l)); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(src, "many", "x"), []byte("many names"), 0o644)
	for i := range 200 {
		name := fmt.Sprintf("%03d-%s", i, strings.Repeat("n", 240))
		if err := os.Link(filepath.Join(src, "many", "x"), filepath.Join(src, "many", name)); err != nil {
			t.Fatal(err)
		}
	}
	testtree.MakeDeepTree(t, src, "deep", 5000, time.Time{})
	for _, name := range []string{"new\nline", " spaced ", `back\slash`, "\xff\xfe-not-utf8", strings.Repeat("L", 255)} {
		writeFile(t, filepath.Join(src, "odd", name), []byte(name), 0o644)
	}
	// old/ and its files get lower inode numbers than later/, then move into it.
	writeFile(t, filepath.Join(src, "old", "inner", "moved.txt"), []byte("moved"), 0o644)
	writeFile(t, filepath.Join(src, "later", "stays.txt"), []byte("stays"), 0o644)
	if err := os.Rename(filepath.Join(src, "old"), filepath.Join(src, "later", "old")); err != nil {
		t.Fatal(err)
	}
	symlink(t, "../a", filepath.Join(src, "odd", "dirlink"))
	if err := unix.Mkfifo(filepath.Join(src, "odd", "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	sparse, err := os.Create(filepath.Join(src, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sparse.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	sparse.Close()
	btrfsCmd(t, "subvolume", "create", filepath.Join(src, "nested"))
	writeFile(t, filepath.Join(src, "nested", "inside"), []byte("not in the snapshot"), 0o644)
	snap := filepath.Join(mnt, "snap")
	btrfsCmd(t, "subvolume", "snapshot", "-r", src, snap)
	return snap
}

func btrfsCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("btrfs", args...).CombinedOutput(); err != nil {
		t.Fatalf("btrfs %v: %v\n%s", args, err, out)
	}
}

// TestSampleTreeMatchesWalk: on real btrfs the btree scan, by one to
// maxWorkers goroutines, and the directory walk sample the same files, for
// every sample size from one to all of them, and the scan really ran (it
// does not fall back).
func TestSampleTreeMatchesWalk(t *testing.T) {
	snap := hostileTree(t)
	f, err := os.Open(snap)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	all, err := sample(snap, MaxSize, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a/linked", "a/linked-again", "linked-at-root", "b/c/linked-deeper",
		"many/199-" + strings.Repeat("n", 240), "odd/new\nline", "odd/\xff\xfe-not-utf8", "odd/dirlink",
		"later/old/inner/moved.txt", "top.bin", "sparse"} {
		if !slices.Contains(all, want) {
			t.Errorf("the walk misses %q: the tree is not what the test means", want)
		}
	}
	for _, absent := range []string{"odd/fifo", "nested/inside"} {
		if slices.Contains(all, absent) {
			t.Errorf("the walk sampled %q", absent)
		}
	}
	for _, n := range []int{1, 5, 50, 400, MaxSize} {
		for _, seed := range []int64{1, 7} {
			walked, err := sample(snap, n, seed, false)
			if err != nil {
				t.Fatal(err)
			}
			for workers := 1; workers <= maxWorkers; workers++ {
				s := newSampler(n, seed)
				if err := s.scanTree(int(f.Fd()), workers); err != nil {
					t.Fatalf("btree scan of a snapshot, %d workers: %v", workers, err)
				}
				if scanned := s.result(); !slices.Equal(walked, scanned) {
					t.Errorf("n=%d seed=%d workers=%d: btree scan and walk differ: %d and %d files, only walked %.200q, only scanned %.200q",
						n, seed, workers, len(walked), len(scanned), difference(walked, scanned), difference(scanned, walked))
				}
			}
		}
	}
	large, _ := sample(snap, 20, 1, true)                                                     // 20/10 picks kept for the largest files
	if !slices.Contains(large, "sparse") || !slices.Contains(large, "media/disk image.img") { // 1 GiB and 64 MiB
		t.Errorf("the two largest files are not in the sample: %q", large)
	}
}

// TestSampleTreeFallsBack: below a subvolume's root, in a writable
// subvolume and on other filesystems the walk is used, and gives a sample.
func TestSampleTreeFallsBack(t *testing.T) {
	mnt := sandbox.TestFS(t, 128)
	if _, err := sandbox.FillSampleData(filepath.Join(mnt, "plain"), 5); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{filepath.Join(mnt, "plain"), filepath.Join(mnt, "plain", "documents"), mnt, t.TempDir()} {
		f, err := os.Open(root)
		if err != nil {
			t.Fatal(err)
		}
		err = newSampler(1, 1).scanTree(int(f.Fd()), maxWorkers)
		f.Close()
		if err != errFallBack {
			t.Errorf("%s: btree scan = %v, want the fallback", root, err)
		}
	}
	got, err := Paths(filepath.Join(mnt, "plain"), 5, 1)
	if err != nil || len(got) != 5 {
		t.Errorf("fallback sample = %q, %v; want 5 files", got, err)
	}
}

func difference(a, b []string) []string {
	var d []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			d = append(d, s)
		}
	}
	return d
}
