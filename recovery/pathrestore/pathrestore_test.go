package pathrestore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolve(t *testing.T) {
	sources := map[string]string{"htpc-root": "/", "htpc-home": "/home", "docs": "/mnt/pool/docs"}
	tests := []struct {
		path    string
		want    map[string]string
		wantErr bool
	}{
		{"/home/patriark/thesis.tex", map[string]string{"htpc-home": "patriark/thesis.tex"}, false},
		{"/etc/fstab", map[string]string{"htpc-root": "etc/fstab"}, false},
		{"/mnt/pool/docs/a/b", map[string]string{"docs": "a/b"}, false},
		{"notes/a.txt", map[string]string{"htpc-root": "notes/a.txt", "htpc-home": "notes/a.txt", "docs": "notes/a.txt"}, false},
		{"../etc/passwd", nil, true},
		{"/home", map[string]string{"htpc-root": "home"}, false}, // a source is a path inside its parent's
		{"/var/../home/x", map[string]string{"htpc-home": "x"}, false},
	}
	for _, tc := range tests {
		got, err := Resolve(sources, tc.path)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v", tc.path, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); !tc.wantErr && diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.path, diff)
		}
	}
}

// Restore never replaces what exists without force, and with force swaps
// the verified copy in before the original goes.
func TestRestorePlacement(t *testing.T) {
	dir := t.TempDir()
	snap := filepath.Join(dir, "snap")
	os.MkdirAll(filepath.Join(snap, "notes"), 0o755)
	os.WriteFile(filepath.Join(snap, "notes", "a.txt"), []byte("from the snapshot"), 0o640)
	dest := filepath.Join(dir, "out", "a.txt")
	ctx := context.Background()
	if _, err := Restore(ctx, snap, "notes/a.txt", dest, false); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(dest, []byte("changed since"), 0o640)
	if _, err := Restore(ctx, snap, "notes/a.txt", dest, false); !errors.Is(err, ErrExists) {
		t.Fatalf("without force: %v", err)
	}
	if b, _ := os.ReadFile(dest); string(b) != "changed since" {
		t.Fatalf("overwritten without force: %q", b)
	}
	if _, err := Restore(ctx, snap, "notes/a.txt", dest, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dest); string(b) != "from the snapshot" {
		t.Fatalf("with force: %q", b)
	}
	left, _ := os.ReadDir(filepath.Dir(dest))
	if len(left) != 1 {
		t.Errorf("temp files left beside the restore: %v", left)
	}
}

// A directory holding a hard link whose partner lies outside it restores.
func TestRestoreDirectoryWithHardLink(t *testing.T) {
	dir := t.TempDir()
	snap := filepath.Join(dir, "snap")
	os.MkdirAll(filepath.Join(snap, "reports"), 0o755)
	os.WriteFile(filepath.Join(snap, "reports", "summary.txt"), []byte("s"), 0o644)
	if err := os.Link(filepath.Join(snap, "reports", "summary.txt"), filepath.Join(snap, "summary-link.txt")); err != nil {
		t.Fatal(err)
	}
	rep, err := Restore(context.Background(), snap, "reports", filepath.Join(dir, "out", "reports"), false)
	if err != nil || rep.Entries < 2 {
		t.Fatalf("restore: %+v %v", rep, err)
	}
}
