package verify

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/verify/coverage"
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

func TestCompareFilesFindsDamageOnlyInItsSlice(t *testing.T) {
	root := sandbox.TestFS(t, 0)
	want, got := filepath.Join(root, "want"), filepath.Join(root, "got")
	sliceTree(t, want)
	cpA(t, want, got)
	const n = 4
	rels, err := coverage.Slice(want, 0, n)
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
		other, err := coverage.Slice(want, k, n)
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
