package btrfs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/drsync/drsync/internal/hostile"
	"github.com/drsync/drsync/internal/safefs"
	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/sandbox"
)

func init() { hostile.Serve() }

// TestDeleteRaceCannotReachTheDrive: a local user owns the directory that
// holds a snapshot directory and, while drsync deletes snapshots there,
// swaps the real directory with a symlink to the drive's replicas
// (renameat2 RENAME_EXCHANGE in a loop). Every replica on the drive must
// survive: a delete either hits the local snapshot or is refused.
func TestDeleteRaceCannotReachTheDrive(t *testing.T) {
	mnt := sandbox.TestFS(t, 0)
	u := hostile.NewUser(t)
	ctx := context.Background()
	home, drive := filepath.Join(mnt, "home"), filepath.Join(mnt, "drive")
	for _, d := range []string{home, drive, filepath.Join(home, "snaps")} {
		must(t, os.Mkdir(d, 0o755))
	}
	hostile.Reachable(t, home)
	u.Own(t, home)
	const n = 40
	for i := range n {
		name := fmt.Sprintf("s%02d", i)
		must(t, btrfs.Create(ctx, filepath.Join(drive, name)))
		must(t, btrfs.Create(ctx, filepath.Join(home, "snaps", name)))
	}
	u.Sh(t, "ln -s "+drive+" "+filepath.Join(home, "alt"))
	u.Start(t, "exchange", filepath.Join(home, "snaps"), filepath.Join(home, "alt"))

	refused := 0
	for i := range n {
		err := btrfs.Delete(ctx, filepath.Join(home, "snaps", fmt.Sprintf("s%02d", i)))
		if errors.Is(err, safefs.ErrSymlink) {
			refused++
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Logf("delete s%02d: %v", i, err)
		}
	}
	subs, _, err := btrfs.List(drive)
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != n {
		t.Errorf("the drive holds %d of its %d replicas after deletes raced with a symlink swap", len(subs), n)
	}
	t.Logf("%d of %d deletes refused a symlink", refused, n)
}

// TestDeleteRefusesSymlinkedParent: a snapshot directory replaced by a
// symlink to the drive makes Delete fail, and the drive keeps its copy.
func TestDeleteRefusesSymlinkedParent(t *testing.T) {
	mnt := sandbox.TestFS(t, 0)
	u := hostile.NewUser(t)
	ctx := context.Background()
	home, drive := filepath.Join(mnt, "home"), filepath.Join(mnt, "drive")
	must(t, os.Mkdir(home, 0o755))
	must(t, os.Mkdir(drive, 0o755))
	must(t, btrfs.Create(ctx, filepath.Join(drive, "s")))
	hostile.Reachable(t, home)
	u.Own(t, home)
	u.Sh(t, "ln -s "+drive+" "+filepath.Join(home, "snaps"))
	err := btrfs.Delete(ctx, filepath.Join(home, "snaps", "s"))
	if !errors.Is(err, safefs.ErrSymlink) {
		t.Errorf("Delete through a symlink = %v, want ErrSymlink", err)
	}
	if _, err := btrfs.Info(filepath.Join(drive, "s")); err != nil {
		t.Errorf("the drive's subvolume is gone: %v", err)
	}
	if _, _, err := btrfs.List(filepath.Join(home, "snaps")); !errors.Is(err, safefs.ErrSymlink) {
		t.Errorf("List through a symlink = %v, want ErrSymlink", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestReceiveRaceStaysInItsDirectory: a drill target lies in a user's
// directory, and while drsync receives full streams into it the user swaps
// it with a symlink to a root-owned directory (RENAME_EXCHANGE in a loop).
// Every stream lands in the drill target or fails; none lands in the
// root-owned directory.
func TestReceiveRaceStaysInItsDirectory(t *testing.T) {
	mnt := sandbox.TestFS(t, 0)
	u := hostile.NewUser(t)
	ctx := context.Background()
	home, victim, src := filepath.Join(mnt, "home"), filepath.Join(mnt, "etc"), filepath.Join(mnt, "src")
	for _, d := range []string{home, victim, filepath.Join(home, ".drill")} {
		must(t, os.Mkdir(d, 0o755))
	}
	must(t, btrfs.Create(ctx, src))
	must(t, os.WriteFile(filepath.Join(src, "data"), []byte("the user's home"), 0o644))
	const n = 10
	for i := range n {
		must(t, btrfs.Snapshot(ctx, src, filepath.Join(mnt, fmt.Sprintf("src.%02d", i))))
	}
	hostile.Reachable(t, home)
	u.Own(t, home)
	u.Sh(t, "ln -s "+victim+" "+filepath.Join(home, "alt"))
	u.Start(t, "exchange", filepath.Join(home, ".drill"), filepath.Join(home, "alt"))

	for i := range n {
		if _, err := btrfs.Send(ctx, filepath.Join(mnt, fmt.Sprintf("src.%02d", i)), "", filepath.Join(home, ".drill"), nil); err != nil {
			t.Logf("send %d: %v", i, err)
		}
	}
	if entries, _ := os.ReadDir(victim); len(entries) > 0 {
		t.Errorf("%d received subvolumes landed in the root-owned directory", len(entries))
	}
}
