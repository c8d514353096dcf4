package treecount

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEntries(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	for _, d := range []string{"a/b", "c"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"a/b/1", "a/b/2", "c/3", "top"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		os.WriteFile(filepath.Join(outside, string(rune('a'+i))), nil, 0o644)
	}
	// A symlink to a big directory is one entry, never followed.
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	for limit, want := range map[int]int{100: 8, 8: 8, 4: 4, 0: 0} {
		if got, err := Entries(root, limit); err != nil || got != want {
			t.Errorf("limit %d: %d entries, %v; want %d", limit, got, err, want)
		}
	}
	if _, err := Entries(filepath.Join(root, "link"), 100); err == nil {
		t.Error("a symlinked root was followed")
	}
}
