package treecount

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCount(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	for _, d := range []string{"a/b", "c"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Sizes 1, 2, 3 and 4 bytes, in name order: a/b/1, a/b/2, c/3, top.
	for i, f := range []string{"a/b/1", "a/b/2", "c/3", "top"} {
		if err := os.WriteFile(filepath.Join(root, f), make([]byte, i+1), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		os.WriteFile(filepath.Join(outside, string(rune('a'+i))), make([]byte, 1000), 0o644)
	}
	// A symlink to a big directory is one entry without bytes, never followed.
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	// Depth first in name order: a, a/b, a/b/1, a/b/2, c, c/3, link, top.
	for limit, want := range map[int]Tally{100: {8, 10}, 8: {8, 10}, 4: {4, 3}, 0: {0, 0}} {
		if got, err := Count(root, limit); err != nil || got != want {
			t.Errorf("limit %d: %+v, %v; want %+v", limit, got, err, want)
		}
	}
	if _, err := Count(filepath.Join(root, "link"), 100); err == nil {
		t.Error("a symlinked root was followed")
	}
}
