package prove_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/hostile"
	"github.com/drsync/drsync/prove"
	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/sandbox"
)

func init() { hostile.Serve() }

const secret = "alice's secret notes"

var stamp = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// aliceTree builds a copy to test whose files sit in a 0700 home: the
// files themselves are 0644, so only the home's mode keeps them private.
func aliceTree(t *testing.T, dir string) {
	t.Helper()
	home := filepath.Join(dir, "home", "alice")
	must(t, os.MkdirAll(home, 0o700))
	for i, name := range []string{"notes.txt", "todo.txt", "plan.txt", "diary.txt"} {
		p := filepath.Join(home, name)
		must(t, os.WriteFile(p, []byte(secret+strings.Repeat("!", i)), 0o644))
		must(t, os.Chtimes(p, stamp, stamp))
	}
	must(t, os.Chown(home, 4242, 4242))
}

func testRequest(copy, scratch string) model.TestRequest {
	return model.TestRequest{Kind: model.KindTest, Subvolume: "home", Snapshot: "home.20261122T0200",
		Copy: copy, SampleSize: 10, Seed: 1, Scratch: scratch}
}

func prover() *prove.Prover {
	return &prove.Prover{Storage: btrfs.Storage{}, KeepFailed: 7 * 24 * time.Hour, Now: time.Now}
}

// TestScratchAnotherUserControlsIsRefused is issue 11 item 5: a local user
// pre-creates the configured scratch in a world-writable /var/tmp and
// replaces every per-test directory drsync makes there with one of its
// own. drsync refuses the scratch, and no sampled file from a 0700 home
// becomes readable to the user.
func TestScratchAnotherUserControlsIsRefused(t *testing.T) {
	mnt := sandbox.TestFS(t, 0)
	u := hostile.NewUser(t)
	copy, vartmp := filepath.Join(mnt, "snap"), filepath.Join(mnt, "var", "tmp")
	aliceTree(t, copy)
	must(t, os.MkdirAll(vartmp, 0o755))
	must(t, os.Chmod(vartmp, 0o1777))
	hostile.Reachable(t, vartmp)
	scratch := filepath.Join(vartmp, "drsync-restore")
	u.Sh(t, "mkdir -m 0777 "+scratch)
	u.Start(t, "hijack", scratch, "restore-test-")

	_, err := prover().Prove(context.Background(), testRequest(copy, scratch), nil)
	if err == nil || !strings.Contains(err.Error(), "not owned by root") {
		t.Errorf("Prove with a scratch the user owns = %v, want a refusal naming the owner", err)
	}
	if u.Can("grep -rqs \"" + secret + "\" " + scratch) {
		t.Errorf("the user can read alice's files restored into %s", scratch)
	}
}

// TestScratchIsRootsAndPrivate: a missing scratch root is created 0700,
// per-run directories are 0700, and a failed test keeps only the files
// that failed (issue 11 items 5 and 13).
func TestScratchIsRootsAndPrivate(t *testing.T) {
	mnt := sandbox.TestFS(t, 0)
	copy, ref := filepath.Join(mnt, "replica"), filepath.Join(mnt, "local")
	aliceTree(t, copy)
	aliceTree(t, ref)
	damaged := "home/alice/notes.txt"
	must(t, os.WriteFile(filepath.Join(copy, damaged), []byte("bit rot"), 0o644))
	must(t, os.Chtimes(filepath.Join(copy, damaged), stamp, stamp))
	scratch := filepath.Join(mnt, "state", "scratch")
	req := testRequest(copy, scratch)
	req.Reference = ref

	r, err := prover().Prove(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Result != model.ResultFail || r.Scratch == "" {
		t.Fatalf("a damaged replica must fail and keep its scratch: %+v", r)
	}
	for _, d := range []string{scratch, r.Scratch} {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v (%v), want 0700", d, fi.Mode(), err)
		}
	}
	var kept []string
	filepath.WalkDir(r.Scratch, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			rel, _ := filepath.Rel(r.Scratch, p)
			kept = append(kept, rel)
		}
		return nil
	})
	if len(kept) != 1 || kept[0] != damaged {
		t.Errorf("failed test kept %v, want only %s", kept, damaged)
	}
}

// TestSampleAndDrillThatWontFitAreSkipped is issue 11 item 13: a sample
// (here one 100 MiB file) larger than the scratch filesystem's free space,
// and a drill of a replica that large into a small pool, are skipped with
// the reason before anything is written.
func TestSampleAndDrillThatWontFitAreSkipped(t *testing.T) {
	big, small := sandbox.TestFS(t, 0), sandbox.TestFS(t, 128)
	ctx := context.Background()
	src := filepath.Join(big, "src")
	must(t, btrfs.Create(ctx, src))
	must(t, os.WriteFile(filepath.Join(src, "video.mkv"), bytes.Repeat([]byte("frame-"), 100<<20/6), 0o644))
	replica := filepath.Join(big, "src.20261122T0200")
	must(t, btrfs.Snapshot(ctx, src, replica))
	scratch := filepath.Join(small, "scratch")
	before := freeBytes(t, small)

	r, err := prover().Prove(ctx, testRequest(replica, scratch), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Result != model.ResultSkip || !strings.Contains(r.Why, "needs") {
		t.Errorf("test of a sample that cannot fit: %s %q, want skip with the sizes", r.Result, r.Why)
	}
	drill := model.TestRequest{Kind: model.KindDrill, Subvolume: "src", Snapshot: filepath.Base(replica),
		Copy: replica, Scratch: filepath.Join(small, ".drill")}
	r, err = prover().Prove(ctx, drill, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Result != model.ResultSkip || !strings.Contains(r.Why, "the replica needs") {
		t.Errorf("drill that cannot fit: %s %q, want skip with the sizes", r.Result, r.Why)
	}
	if after := freeBytes(t, small); after+(8<<20) < before {
		t.Errorf("the small filesystem lost %d bytes to skipped proofs", before-after)
	}
}

func freeBytes(t *testing.T, dir string) uint64 {
	t.Helper()
	var s unix.Statfs_t
	must(t, unix.Statfs(dir, &s))
	return s.Bavail * uint64(s.Bsize)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestSymlinkedDrillTargetCannotDeleteTheReplica: the drill target lies
// in a user's directory (beside ~/.snapshots), and the user replaces it
// with a symlink to the drive's replica directory. Clearing "an earlier
// drill's copy" there would delete the very replica being drilled; the
// drill is refused instead and the replica survives (issue 11 item 1).
func TestSymlinkedDrillTargetCannotDeleteTheReplica(t *testing.T) {
	mnt := sandbox.TestFS(t, 0)
	u := hostile.NewUser(t)
	ctx := context.Background()
	src, local, drive, home := filepath.Join(mnt, "src"), filepath.Join(mnt, "local"), filepath.Join(mnt, "drive"), filepath.Join(mnt, "home")
	for _, d := range []string{local, drive, home} {
		must(t, os.Mkdir(d, 0o755))
	}
	must(t, btrfs.Create(ctx, src))
	must(t, os.WriteFile(filepath.Join(src, "a.txt"), []byte("data"), 0o644))
	snap := filepath.Join(local, "src.20261122T0200")
	must(t, btrfs.Snapshot(ctx, src, snap))
	if _, err := btrfs.Send(ctx, snap, "", drive, nil); err != nil {
		t.Fatal(err)
	}
	replica := filepath.Join(drive, "src.20261122T0200")
	hostile.Reachable(t, home)
	u.Own(t, home)
	u.Sh(t, "ln -s "+drive+" "+filepath.Join(home, ".drill"))

	req := model.TestRequest{Kind: model.KindDrill, Subvolume: "src", Snapshot: "src.20261122T0200",
		Copy: replica, Reference: snap, External: true, Scratch: filepath.Join(home, ".drill")}
	if _, err := prover().Prove(ctx, req, nil); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("drill into a symlinked target = %v, want a refusal naming the symlink", err)
	}
	if _, err := btrfs.Info(replica); err != nil {
		t.Errorf("the drilled replica is gone: %v", err)
	}
}
