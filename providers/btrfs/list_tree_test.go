package btrfs_test

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/drsync/drsync/providers/btrfs"

	"github.com/drsync/drsync/sandbox"
)

// TestListFromRootTreeMatchesGetSubvolInfo: the root-tree listing finds
// exactly the subvolumes directly inside a directory, and reports for each
// what GET_SUBVOL_INFO does, for snapshots whose ids are dense and sparse
// (two subvolumes snapshotted in turn, and a third's far apart), a received
// snapshot (received UUID), a writable one, and next to a plain directory,
// a file and a subvolume nested one level down, which are not listed.
func TestListFromRootTreeMatchesGetSubvolInfo(t *testing.T) {
	const rounds = 8
	mnt := sandbox.TestFS(t, 256)
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	pool := filepath.Join(mnt, "pool")
	run("btrfs", "subvolume", "create", pool)
	snaps := filepath.Join(pool, ".snapshots")
	for _, d := range []string{snaps, filepath.Join(snaps, "plain"), filepath.Join(mnt, "elsewhere")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, sv := range []string{"a", "b", "c"} {
		run("btrfs", "subvolume", "create", filepath.Join(pool, sv))
	}
	for i := range rounds {
		run("btrfs", "subvolume", "snapshot", "-r", filepath.Join(pool, "a"), filepath.Join(snaps, fmt.Sprintf("a.%02d", i)))
		run("btrfs", "subvolume", "snapshot", "-r", filepath.Join(pool, "b"), filepath.Join(snaps, fmt.Sprintf("b.%02d", i)))
		for j := range 2 * btrfs.DenseGap { // c's snapshots here get ids far apart
			run("btrfs", "subvolume", "snapshot", "-r", filepath.Join(pool, "c"), filepath.Join(mnt, "elsewhere", fmt.Sprintf("c.%02d.%02d", i, j)))
		}
		run("btrfs", "subvolume", "snapshot", "-r", filepath.Join(pool, "c"), filepath.Join(snaps, fmt.Sprintf("c.%02d", i)))
	}
	run("btrfs", "subvolume", "snapshot", filepath.Join(pool, "a"), filepath.Join(snaps, "writable"))
	run("btrfs", "subvolume", "create", filepath.Join(snaps, "plain", "nested"))
	if err := os.WriteFile(filepath.Join(snaps, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	run("sh", "-c", `btrfs send -q "$1" | btrfs receive "$2"`, "sh", filepath.Join(snaps, "a.00"), filepath.Join(mnt, "elsewhere"))
	run("btrfs", "subvolume", "snapshot", "-r", filepath.Join(mnt, "elsewhere", "a.00"), filepath.Join(snaps, "received"))

	known, err := btrfs.ListFromRootTree(snaps)
	if err != nil || known == nil {
		t.Fatalf("root-tree listing did not run: %v", err)
	}
	var want []string
	for i := range rounds {
		want = append(want, fmt.Sprintf("a.%02d", i), fmt.Sprintf("b.%02d", i), fmt.Sprintf("c.%02d", i))
	}
	want = append(want, "writable", "received")
	if got := slices.Sorted(maps.Keys(known)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("root tree lists %q, want %q", got, want)
	}
	for name, sv := range known {
		info, err := btrfs.Info(sv.Path)
		if err != nil {
			t.Fatal(err)
		}
		if sv != info {
			t.Errorf("%s: root tree %+v, GET_SUBVOL_INFO %+v", name, sv, info)
		}
	}
	if sv := known["received"]; sv.ReceivedUUID == "" || !sv.ReadOnly {
		t.Errorf("received snapshot %+v: want a received UUID, read-only", sv)
	}
	if known["writable"].ReadOnly {
		t.Error("writable snapshot listed read-only")
	}

	subs, others, err := btrfs.List(snaps)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sv := range subs {
		names = append(names, sv.Name)
	}
	if !slices.Equal(names, slices.Sorted(slices.Values(want))) {
		t.Errorf("List: subvolumes %q, want %q sorted", names, want)
	}
	if !slices.Equal(others, []string{"file", "plain"}) {
		t.Errorf("List others = %q, want file, plain", others)
	}
}
