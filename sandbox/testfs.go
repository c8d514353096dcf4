package sandbox

import (
	"context"
	"path/filepath"
	"testing"
)

// TestFS mounts a fresh btrfs of sizeMiB (0 means 256; 16 is the minimum)
// under t.TempDir() and returns its mount point. Unmount and loop detach are
// registered before mounting, so they run even when the test fails midway.
// Without loop-mounted btrfs the test is skipped with the reason, so a
// missing capability never passes silently.
func TestFS(t testing.TB, sizeMiB int) string {
	t.Helper()
	if err := Available(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	t.Cleanup(func() {
		if err := Down(context.Background(), dir); err != nil {
			t.Errorf("sandbox cleanup: %v", err)
		}
	})
	mnt := filepath.Join(dir, "mnt")
	if err := Up(t.Context(), dir, Layout{Filesystems: []Filesystem{{MountPoint: mnt, SizeMiB: sizeMiB}}}); err != nil {
		t.Fatal(err)
	}
	return mnt
}
