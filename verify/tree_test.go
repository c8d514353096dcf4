package verify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/sandbox"
)

// copiedTrees returns a sample tree and its cp -a copy.
func copiedTrees(t *testing.T) (want, got string) {
	t.Helper()
	dir := t.TempDir()
	want, got = filepath.Join(dir, "want"), filepath.Join(dir, "got")
	if _, err := sandbox.FillSampleData(want, 11); err != nil {
		t.Fatal(err)
	}
	cpA(t, want, got)
	return want, got
}

func TestCompareTreesIdentical(t *testing.T) {
	want, got := copiedTrees(t)
	var progressed int64
	r, err := CompareTrees(context.Background(), want, got, func(n int64) { progressed += n })
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Mismatches) > 0 {
		t.Errorf("identical trees: %+v", r.Mismatches)
	}
	if r.Files < 20 || r.Entries <= r.Files || r.Bytes < 2*(64<<20) {
		t.Errorf("report %+v: too little compared", r)
	}
	if progressed != r.Bytes {
		t.Errorf("progress summed to %d, report says %d bytes", progressed, r.Bytes)
	}
}

func TestCompareTreesFaults(t *testing.T) {
	want, got := copiedTrees(t)
	p := func(rel string) string { return filepath.Join(got, rel) }
	keepDirMtime := func(rel string, change func()) {
		st, err := os.Lstat(filepath.Dir(p(rel)))
		if err != nil {
			t.Fatal(err)
		}
		change()
		setMtime(t, filepath.Dir(p(rel)), st.ModTime())
	}
	st, err := os.Lstat(p("media/video.bin"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p("media/video.bin"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, 700_001); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{b[0] ^ 0x80}, 700_001); err != nil {
		t.Fatal(err)
	}
	f.Close()
	setMtime(t, p("media/video.bin"), st.ModTime())
	keepDirMtime("documents/extra.txt", func() {
		if err := os.WriteFile(p("documents/extra.txt"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	keepDirMtime("code/secrets.env", func() {
		if err := os.Remove(p("code/secrets.env")); err != nil {
			t.Fatal(err)
		}
	})
	setXattr(t, p("documents/notes/Ærlig talt – notater.txt"), "user.lang", "en")

	r, err := CompareTrees(context.Background(), want, got, nil)
	if err != nil {
		t.Fatal(err)
	}
	assertChecks(t, r.Mismatches, [][2]string{
		{"code/secrets.env", "missing"},
		{"documents/extra.txt", "extra"},
		{"documents/notes/Ærlig talt – notater.txt", "xattr:user.lang"},
		{"media/video.bin", "sha256"},
	})
	for _, m := range r.Mismatches {
		if m.Check == "sha256" && (len(m.Want) != 64 || len(m.Got) != 64 || m.Want == m.Got) {
			t.Errorf("sha256 mismatch without both digests: %+v", m)
		}
	}
}

func TestCompareTreesCancel(t *testing.T) {
	want, got := copiedTrees(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := CompareTrees(ctx, want, got, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before start: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	r, err := CompareTrees(ctx, want, got, func(int64) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled midway: %v", err)
	}
	if r.Bytes >= 2*(64<<20) {
		t.Errorf("read %d bytes after cancel", r.Bytes)
	}
}

// TestCompareTreesAfterReceive is the full drill: a btrfs send/receive
// replica must match its snapshot in every attribute, directory mtimes and
// hardlinks included.
func TestCompareTreesAfterReceive(t *testing.T) {
	mnt := sandbox.TestFS(t, 256)
	ctx := context.Background()
	src, snaps, replicas := filepath.Join(mnt, "data"), filepath.Join(mnt, "snaps"), filepath.Join(mnt, "replicas")
	for _, d := range []string{snaps, replicas} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := btrfs.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	if _, err := sandbox.FillSampleData(src, 5); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(snaps, "s1")
	if err := btrfs.Snapshot(ctx, src, snap); err != nil {
		t.Fatal(err)
	}
	if _, err := btrfs.Send(ctx, snap, "", replicas, nil); err != nil {
		t.Fatal(err)
	}
	r, err := CompareTrees(ctx, snap, filepath.Join(replicas, "s1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Mismatches) > 0 {
		t.Errorf("received replica differs: %+v", r.Mismatches)
	}
	if r.Files < 20 {
		t.Errorf("report %+v", r)
	}
}

// TestCompareTreesLeavesNestedSubvolumesOut: a source holding its own
// snapshot directory (the example's home) is snapshotted with its earlier
// snapshots inside, which btrfs shows as empty directories and btrfs send
// leaves out: the replica received from that snapshot still matches it.
func TestCompareTreesLeavesNestedSubvolumesOut(t *testing.T) {
	mnt := sandbox.TestFS(t, 256)
	ctx := context.Background()
	src, replicas := filepath.Join(mnt, "home"), filepath.Join(mnt, "replicas")
	if err := os.Mkdir(replicas, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := btrfs.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	if _, err := sandbox.FillSampleData(src, 3); err != nil {
		t.Fatal(err)
	}
	inner := filepath.Join(src, ".snapshots")
	if err := os.Mkdir(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := btrfs.Snapshot(ctx, src, filepath.Join(inner, "s1")); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(mnt, "s2")
	if err := btrfs.Snapshot(ctx, src, snap); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(snap, ".snapshots", "s1")); err != nil {
		t.Fatalf("the nested snapshot's placeholder is not in the snapshot: %v", err)
	}
	if _, err := btrfs.Send(ctx, snap, "", replicas, nil); err != nil {
		t.Fatal(err)
	}
	r, err := CompareTrees(ctx, snap, filepath.Join(replicas, "s2"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Mismatches) > 0 {
		t.Errorf("received replica differs: %+v", r.Mismatches)
	}
	// The live source, whose .snapshots/s1 is a subvolume of its own,
	// matches its snapshot too.
	if r, err = CompareTrees(ctx, src, snap, nil); err != nil || len(r.Mismatches) > 0 {
		t.Errorf("source against its snapshot: %v %+v", err, r.Mismatches)
	}
}

// TestCompareTreesIncrementalReceive: an incremental stream that adds files
// below an unchanged top directory leaves the received top directory's
// mtime at the time of the receive (the new inodes pass through it under
// temporary names); the replica still matches its snapshot, while any
// other directory's mtime is compared.
func TestCompareTreesIncrementalReceive(t *testing.T) {
	mnt := sandbox.TestFS(t, 256)
	ctx := context.Background()
	src, snaps, replicas := filepath.Join(mnt, "data"), filepath.Join(mnt, "snaps"), filepath.Join(mnt, "replicas")
	for _, d := range []string{snaps, replicas} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := btrfs.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	if _, err := sandbox.FillSampleData(src, 5); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	setMtime(t, src, old)
	first, second := filepath.Join(snaps, "s1"), filepath.Join(snaps, "s2")
	if err := btrfs.Snapshot(ctx, src, first); err != nil {
		t.Fatal(err)
	}
	if _, err := btrfs.Send(ctx, first, "", replicas, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(src, "documents", "new"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "documents", "new", "f"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := btrfs.Snapshot(ctx, src, second); err != nil {
		t.Fatal(err)
	}
	if _, err := btrfs.Send(ctx, second, first, replicas, nil); err != nil {
		t.Fatal(err)
	}
	r, err := CompareTrees(ctx, second, filepath.Join(replicas, "s2"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Mismatches) > 0 {
		t.Errorf("incrementally received replica differs: %+v", r.Mismatches)
	}

	want, got := copiedTrees(t)
	setMtime(t, got, old)
	setMtime(t, filepath.Join(got, "documents"), old)
	r, err = CompareTrees(ctx, want, got, nil)
	if err != nil {
		t.Fatal(err)
	}
	assertChecks(t, r.Mismatches, [][2]string{{"documents", "mtime"}})
}
