package treesearch_test

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/providers/btrfs/treesearch"
	"github.com/drsync/drsync/sandbox"
)

type seen struct {
	mode uint32
	size int64
	ino  uint64
}

// TestScanMatchesLstat: every name Scan reports, with its inode's size and
// type, is what lstat says of the path, and no name is missed, on a
// subvolume with hard links (enough for INODE_EXTREFs), a directory moved
// under a newer one, odd names, sizes up to a sparse 1 GiB, and more
// inodes than one ioctl's buffer holds.
func TestScanMatchesLstat(t *testing.T) {
	if err := sandbox.Available(); err != nil {
		t.Skip(err)
	}
	mnt := sandbox.TestFS(t, 256)
	src := filepath.Join(mnt, "src")
	btrfs(t, "subvolume", "create", src)
	write := func(rel string, size int64) {
		p := filepath.Join(src, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 12_000 { // more than one 1 MiB batch of items
		write(fmt.Sprintf("bulk/%02d/f%05d", i%40, i), int64(i%7)*1000)
	}
	write("big", 1<<30)
	write("odd/new\nline", 5)
	write("odd/\xff-not-utf8", 6)
	write("old/inner/x", 7)
	write("later/y", 8)
	if err := os.Rename(filepath.Join(src, "old"), filepath.Join(src, "later", "old")); err != nil {
		t.Fatal(err)
	}
	write("links/one", 9)
	for i := range 150 {
		if err := os.Link(filepath.Join(src, "links/one"), filepath.Join(src, "links", fmt.Sprintf("%03d%s", i, strings.Repeat("x", 240)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("target text", filepath.Join(src, "odd", "link")); err != nil {
		t.Fatal(err)
	}

	// Scan reads read-only snapshots: what drsync samples.
	snap := filepath.Join(mnt, "snap")
	btrfs(t, "subvolume", "snapshot", "-r", src, snap)
	src = snap
	want := map[string]seen{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == src {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		want[rel] = seen{st.Mode & unix.S_IFMT, st.Size, st.Ino}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	fd, err := unix.Open(src, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	for _, workers := range []int{1, 3} {
		got, perWorker := scanNames(t, fd, workers)
		for rel, w := range want {
			if g, ok := got[rel]; !ok {
				t.Errorf("%d workers: %q: not scanned", workers, rel)
			} else if g != w {
				t.Errorf("%d workers: %q: scanned %+v, lstat %+v", workers, rel, g, w)
			}
		}
		for _, rel := range slices.Sorted(maps.Keys(got)) {
			if _, ok := want[rel]; !ok {
				t.Errorf("%d workers: %q: scanned, not on disk", workers, rel)
			}
		}
		if busy := len(perWorker); busy != workers {
			t.Errorf("%d workers asked, %d scanned inodes: %v", workers, busy, perWorker)
		}
	}
	if _, ok, err := treesearch.DirRef(fd, 1<<40); ok || err != nil {
		t.Errorf("DirRef of an inode that does not exist: %v, %v", ok, err)
	}
	if len(want) < 12_000+150 {
		t.Errorf("the tree has %d names: not what the test means", len(want))
	}
}

// scanNames runs ScanParallel and joins the names it reports into paths
// (resolving a directory in another worker's range with DirRef, as the
// sampler does); it fails the test if an inode comes twice. It also counts
// the inodes each worker got.
func scanNames(t *testing.T, fd, workers int) (map[string]seen, map[int]int) {
	t.Helper()
	var mu sync.Mutex
	names := map[uint64]treesearch.Ref{} // directories
	type entry struct {
		treesearch.Ref
		seen
	}
	var entries []entry
	inodes, perWorker := map[uint64]bool{}, map[int]int{}
	err := treesearch.ScanParallel(fd, workers, func(w int, ino treesearch.Inode, refs []treesearch.Ref) error {
		mu.Lock()
		defer mu.Unlock()
		if inodes[ino.Ino] {
			t.Errorf("%d workers: inode %d scanned twice", workers, ino.Ino)
		}
		inodes[ino.Ino] = true
		perWorker[w]++
		for _, r := range refs {
			if ino.Ino == treesearch.RootIno {
				continue
			}
			r.Name = slices.Clone(r.Name)
			if ino.Mode&unix.S_IFMT == unix.S_IFDIR {
				names[ino.Ino] = r
			}
			entries = append(entries, entry{r, seen{ino.Mode & unix.S_IFMT, ino.Size, ino.Ino}})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir, r := range names {
		got, ok, err := treesearch.DirRef(fd, dir)
		if err != nil || !ok || got.Parent != r.Parent || string(got.Name) != string(r.Name) {
			t.Errorf("DirRef(%d) = %q in %d, %v, %v; the scan said %q in %d", dir, got.Name, got.Parent, ok, err, r.Name, r.Parent)
		}
	}
	got := map[string]seen{}
	for _, e := range entries {
		rel := string(e.Name)
		for p := e.Parent; p != treesearch.RootIno; p = names[p].Parent {
			rel = string(names[p].Name) + "/" + rel
		}
		got[rel] = e.seen
	}
	return got, perWorker
}

func btrfs(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("btrfs", args...).CombinedOutput(); err != nil {
		t.Fatalf("btrfs %v: %v\n%s", args, err, out)
	}
}

// TestScanRefuses: Scan reads a whole subvolume's committed btree, so below
// its root, in a writable subvolume (whose btree may lag behind) or off
// btrfs it refuses rather than return another tree.
func TestScanRefuses(t *testing.T) {
	mnt := sandbox.TestFS(t, 128)
	if err := os.Mkdir(filepath.Join(mnt, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	btrfs(t, "subvolume", "snapshot", "-r", mnt, filepath.Join(mnt, "snap"))
	for _, dir := range []string{filepath.Join(mnt, "sub"), mnt, filepath.Join(mnt, "snap", "sub"), t.TempDir()} {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		err = treesearch.Scan(fd, func(treesearch.Inode, []treesearch.Ref) error { return nil })
		unix.Close(fd)
		if !errors.Is(err, treesearch.ErrNotReadOnlySubvolume) {
			t.Errorf("%s: Scan = %v, want treesearch.ErrNotReadOnlySubvolume", dir, err)
		}
	}
}
