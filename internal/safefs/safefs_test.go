package safefs_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/safefs"
)

func TestOpenDirRefusesSymlinkInAnyComponent(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	must(t, os.MkdirAll(filepath.Join(real, "sub"), 0o755))
	must(t, os.Symlink(real, filepath.Join(dir, "link")))
	for _, p := range []string{filepath.Join(dir, "link"), filepath.Join(dir, "link", "sub")} {
		if _, err := safefs.OpenDir(p); !errors.Is(err, safefs.ErrSymlink) {
			t.Errorf("OpenDir(%s) = %v, want ErrSymlink", p, err)
		}
	}
	fd, err := safefs.OpenDir(filepath.Join(real, "sub"))
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	if _, err := safefs.OpenDirBelow(real, filepath.Join(dir, "elsewhere")); err == nil {
		t.Errorf("OpenDirBelow accepted a directory outside its root")
	}
}

// A mount between root and dir puts dir on another filesystem.
func TestOpenDirBelowRefusesMountCrossing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	root := t.TempDir()
	mnt := filepath.Join(root, "mnt")
	must(t, os.Mkdir(mnt, 0o755))
	if out, err := exec.Command("mount", "-t", "tmpfs", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	must(t, os.Mkdir(filepath.Join(mnt, "snaps"), 0o755))
	if _, err := safefs.OpenDirBelow(root, filepath.Join(mnt, "snaps")); !errors.Is(err, safefs.ErrOtherFilesystem) {
		t.Errorf("OpenDirBelow across a mount = %v, want ErrOtherFilesystem", err)
	}
}

func TestReadAndReplaceFileRefuseSymlinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	must(t, os.WriteFile(target, []byte("private"), 0o600))
	link := filepath.Join(dir, "generated.yml")
	must(t, os.Symlink(target, link))
	if _, err := safefs.ReadFile(link); !errors.Is(err, safefs.ErrSymlink) {
		t.Errorf("ReadFile(symlink) = %v, want ErrSymlink", err)
	}
	if err := safefs.ReplaceFile(link, []byte("new"), 0o644); !errors.Is(err, safefs.ErrSymlink) {
		t.Errorf("ReplaceFile(symlink) = %v, want ErrSymlink", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "private" {
		t.Errorf("the symlink's target was written: %q", b)
	}
	fifo := filepath.Join(dir, "fifo")
	must(t, syscall.Mkfifo(fifo, 0o644))
	if _, err := safefs.ReadFile(fifo); !errors.Is(err, safefs.ErrNotRegular) {
		t.Errorf("ReadFile(fifo) = %v, want ErrNotRegular (and no hang)", err)
	}
	plain := filepath.Join(dir, "new", "file.yml")
	must(t, safefs.ReplaceFile(plain, []byte("v1"), 0o644))
	must(t, safefs.ReplaceFile(plain, []byte("v2"), 0o644))
	if b, err := safefs.ReadFile(plain); err != nil || string(b) != "v2" {
		t.Errorf("ReadFile after two replaces = %q, %v", b, err)
	}
	if left, _ := os.ReadDir(filepath.Dir(plain)); len(left) != 1 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestCheckTrusted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to own the directory")
	}
	dir := t.TempDir()
	fd, err := safefs.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := safefs.CheckTrusted(fd, dir); err != nil {
		t.Errorf("a root-owned 0700 directory: %v", err)
	}
	must(t, os.Chmod(dir, 0o1777))
	if err := safefs.CheckTrusted(fd, dir); !errors.Is(err, safefs.ErrUnsafeOwner) {
		t.Errorf("a world-writable directory = %v, want ErrUnsafeOwner", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
