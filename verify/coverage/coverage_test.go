package coverage_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/verify/coverage"
)

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
}

// sliceTree fills root with files in nested directories, symlinks, an
// empty file, odd names and a hard link; it returns every file's rel.
func sliceTree(t *testing.T, root string) []string {
	t.Helper()
	var rels []string
	for i := range 300 {
		rel := fmt.Sprintf("d%d/e%d/file %d\n.txt", i%7, i%3, i)
		write(t, filepath.Join(root, rel), fmt.Sprintf("content %d", i))
		rels = append(rels, rel)
	}
	write(t, filepath.Join(root, "top"), "")
	if err := os.Symlink("/etc/passwd", filepath.Join(root, "d1/link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(root, "top"), filepath.Join(root, "d2/hardlink")); err != nil {
		t.Fatal(err)
	}
	rels = append(rels, "top", "d1/link", "d2/hardlink")
	if err := os.Mkdir(filepath.Join(root, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	slices.Sort(rels)
	return rels
}

func TestSlicesHoldEveryFileExactlyOnce(t *testing.T) {
	root := sandbox.TestFS(t, 0)
	want := sliceTree(t, root)
	const n = 12
	seen := map[string]int{}
	var total int
	for k := range n {
		rels, err := coverage.Slice(root, k, n)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.IsSorted(rels) {
			t.Errorf("slice %d is not sorted", k)
		}
		for _, rel := range rels {
			seen[rel]++
			if coverage.SliceOf(rel, n) != k {
				t.Errorf("%q listed in slice %d, belongs to %d", rel, k, coverage.SliceOf(rel, n))
			}
		}
		if len(rels) == 0 || len(rels) > len(want)/4 {
			t.Errorf("slice %d holds %d of %d files: the hash does not spread them", k, len(rels), len(want))
		}
		total += len(rels)
	}
	for _, rel := range want {
		if seen[rel] != 1 {
			t.Errorf("%q is in %d slices, want exactly 1", rel, seen[rel])
		}
	}
	if total != len(want) {
		t.Errorf("slices hold %d files, the tree %d", total, len(want))
	}
}

func TestSliceOfDependsOnThePathAlone(t *testing.T) {
	// The first 8 bytes of SHA-256("a") are ca978112ca1bbdca.
	if got, want := coverage.SliceOf("a", 1000), int(0xca978112ca1bbdca%1000); got != want {
		t.Errorf("coverage.SliceOf(a, 1000) = %d, want %d", got, want)
	}
	if coverage.SliceOf("x/y", 1) != 0 || coverage.SliceOf("x/y", 0) != 0 {
		t.Error("one slice (or none) must hold everything")
	}
}

func TestWalkNamesDoesNotFollowSymlinkedDirectories(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	write(t, filepath.Join(outside, "secret"), "x")
	if err := os.Symlink(outside, filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := coverage.WalkNames(root, func(rel string, _ uint64) { got = append(got, rel) }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"escape"}) {
		t.Errorf("walk = %q, want only the symlink itself", got)
	}
}

func TestCountSlicesAddsUpAndHonoursSince(t *testing.T) {
	root := t.TempDir()
	rels := sliceTree(t, root)
	const n = 5
	var files int
	var bytes int64
	gens := map[uint64]uint64{}
	sizes := map[uint64]int64{}
	for _, rel := range rels {
		fi, err := os.Lstat(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		ino := fi.Sys().(*syscall.Stat_t).Ino
		files++
		if fi.Mode().IsRegular() {
			bytes += fi.Size()
		}
		sizes[ino] = fi.Size()
		gens[ino] = uint64(len(rel)) // any per-file value works as a generation
	}
	plain, err := coverage.CountSlices(root, n, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var gotFiles int
	var gotBytes int64
	for _, c := range plain {
		gotFiles += c.Files
		gotBytes += c.Bytes
		if c.UnchangedFiles != 0 {
			t.Error("without metadata nothing may count as unchanged")
		}
	}
	if gotFiles != files || gotBytes != bytes {
		t.Errorf("slices add up to %d files, %d bytes; the tree holds %d, %d", gotFiles, gotBytes, files, bytes)
	}
	since := []uint64{0, 20, 20, 1000, 20}
	counted, err := coverage.CountSlices(root, n, since, func(ino uint64) (int64, uint64, bool) {
		g, ok := gens[ino]
		return sizes[ino], g, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int, n)
	for _, rel := range rels {
		if k := coverage.SliceOf(rel, n); since[k] > 0 && uint64(len(rel)) <= since[k] {
			want[k]++
		}
	}
	for k, c := range counted {
		if c.Files != plain[k].Files || c.Bytes != plain[k].Bytes {
			t.Errorf("slice %d: metadata counts %+v differ from stat's %+v", k, c, plain[k])
		}
		if c.UnchangedFiles != want[k] {
			t.Errorf("slice %d: %d unchanged, want %d", k, c.UnchangedFiles, want[k])
		}
	}
	if counted[3].UnchangedFiles != counted[3].Files || counted[0].UnchangedFiles != 0 {
		t.Error("a generation above every file's must count the whole slice, none must count nothing")
	}
}
