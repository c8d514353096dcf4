package verify

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/drsync/drsync/sandbox"
)

// sliceTree fills root with files in nested directories, symlinks, an
// empty file, odd names and a hard link; it returns every file's rel.
func sliceTree(t *testing.T, root string) []string {
	t.Helper()
	var rels []string
	for i := range 300 {
		rel := fmt.Sprintf("d%d/e%d/file %d\n.txt", i%7, i%3, i)
		writeFile(t, filepath.Join(root, rel), []byte(fmt.Sprintf("content %d", i)), 0o640)
		rels = append(rels, rel)
	}
	writeFile(t, filepath.Join(root, "top"), nil, 0o600)
	symlink(t, "/etc/passwd", filepath.Join(root, "d1/link"))
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
		rels, err := Slice(root, k, n)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.IsSorted(rels) {
			t.Errorf("slice %d is not sorted", k)
		}
		for _, rel := range rels {
			seen[rel]++
			if SliceOf(rel, n) != k {
				t.Errorf("%q listed in slice %d, belongs to %d", rel, k, SliceOf(rel, n))
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
	if got, want := SliceOf("a", 1000), int(0xca978112ca1bbdca%1000); got != want {
		t.Errorf("SliceOf(a, 1000) = %d, want %d", got, want)
	}
	if SliceOf("x/y", 1) != 0 || SliceOf("x/y", 0) != 0 {
		t.Error("one slice (or none) must hold everything")
	}
}

func TestWalkNamesDoesNotFollowSymlinkedDirectories(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "secret"), []byte("x"), 0o600)
	symlink(t, outside, filepath.Join(root, "escape"))
	var got []string
	if err := WalkNames(root, func(rel string, _ uint64) { got = append(got, rel) }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"escape"}) {
		t.Errorf("walk = %q, want only the symlink itself", got)
	}
}

func TestCompareFilesFindsDamageOnlyInItsSlice(t *testing.T) {
	root := sandbox.TestFS(t, 0)
	want, got := filepath.Join(root, "want"), filepath.Join(root, "got")
	sliceTree(t, want)
	cpA(t, want, got)
	const n = 4
	rels, err := Slice(want, 0, n)
	if err != nil {
		t.Fatal(err)
	}
	damaged := rels[0]
	orig, err := os.ReadFile(filepath.Join(want, damaged))
	if err != nil {
		t.Fatal(err)
	}
	orig[0] ^= 0xff // same size, other bytes: only the content check can tell
	if err := os.WriteFile(filepath.Join(got, damaged), orig, 0o640); err != nil {
		t.Fatal(err)
	}
	setMtime(t, filepath.Join(got, damaged), mtime)
	gone := rels[len(rels)-1]
	if err := os.Remove(filepath.Join(got, gone)); err != nil {
		t.Fatal(err)
	}
	rep, err := CompareFiles(t.Context(), want, got, rels, nil)
	if err != nil {
		t.Fatal(err)
	}
	assertChecks(t, rep.Mismatches, [][2]string{{damaged, "sha256"}, {gone, "missing"}})
	if rep.Entries != len(rels)-1 {
		t.Errorf("compared %d entries, want %d", rep.Entries, len(rels)-1)
	}
	for k := 1; k < n; k++ {
		other, err := Slice(want, k, n)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := CompareFiles(t.Context(), want, got, other, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Mismatches) > 0 {
			t.Errorf("slice %d reports %v; the damage is in slice 0", k, rep.Mismatches)
		}
	}
}

func TestCompareFilesMissingDirectoryNamesEachFile(t *testing.T) {
	want, got := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(want, "gone/a"), []byte("a"), 0o600)
	writeFile(t, filepath.Join(want, "gone/b"), []byte("b"), 0o600)
	rep, err := CompareFiles(t.Context(), want, got, []string{"gone/a", "gone/b"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	assertChecks(t, rep.Mismatches, [][2]string{{"gone/a", "missing"}, {"gone/b", "missing"}})
}

func TestCompareFilesRefusesSymlinkedParent(t *testing.T) {
	want, got, outside := t.TempDir(), t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(want, "dir/f"), []byte("a"), 0o600)
	writeFile(t, filepath.Join(outside, "f"), []byte("a"), 0o600)
	symlink(t, outside, filepath.Join(got, "dir"))
	rep, err := CompareFiles(t.Context(), want, got, []string{"dir/f"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Mismatches) != 1 || rep.Mismatches[0].Check != "read" || rep.Entries != 0 {
		t.Errorf("a symlinked parent on the got side must be refused, got %+v", rep)
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
	plain, err := CountSlices(root, n, nil, nil)
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
	counted, err := CountSlices(root, n, since, func(ino uint64) (int64, uint64, bool) {
		g, ok := gens[ino]
		return sizes[ino], g, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int, n)
	for _, rel := range rels {
		if k := SliceOf(rel, n); since[k] > 0 && uint64(len(rel)) <= since[k] {
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
