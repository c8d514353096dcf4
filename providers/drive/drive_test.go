package drive

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/target"
)

func TestDriveAsTarget(t *testing.T) {
	local := sandbox.TestFS(t, 256)
	mount := sandbox.TestFS(t, 256)
	ctx := t.Context()
	uuid, err := btrfs.FilesystemUUID(mount)
	if err != nil {
		t.Fatal(err)
	}
	d := &schema.Desired{Locations: map[string]schema.Location{
		"WD-18TB": {External: true, Mount: mount, UUID: uuid, Path: filepath.Join(mount, ".snapshots"), Layout: "per-subvolume"},
	}}
	drv, err := New(d, "WD-18TB")
	if err != nil {
		t.Fatal(err)
	}
	if err := drv.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(local, "home")
	snaps := filepath.Join(local, "snapshots")
	if err := btrfs.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(snaps, 0o755)
	os.WriteFile(filepath.Join(src, "f"), []byte("data"), 0o644)
	snap := target.Snapshot{Subvolume: "home", Name: "home.20261101T0200", Path: filepath.Join(snaps, "home.20261101T0200")}
	if err := btrfs.Snapshot(ctx, src, snap.Path); err != nil {
		t.Fatal(err)
	}
	if _, err := drv.Receive(ctx, snap, "", nil); err != nil {
		t.Fatal(err)
	}
	// A half-received replica (writable, no received UUID) and a foreign one.
	dir := d.SnapshotDir("WD-18TB", "home")
	btrfs.Create(ctx, filepath.Join(dir, "home.20261108T0200"))
	btrfs.Create(ctx, filepath.Join(dir, "scratch"))
	copies, err := drv.List(ctx, "home")
	if err != nil {
		t.Fatal(err)
	}
	verdict := map[string]string{}
	for _, c := range copies {
		switch {
		case c.Foreign:
			verdict[c.Name] = "foreign"
		case c.Restorable():
			verdict[c.Name] = "complete"
		default:
			verdict[c.Name] = "incomplete"
		}
	}
	want := map[string]string{"home.20261101T0200": "complete", "home.20261108T0200": "incomplete", "scratch": "foreign"}
	for k, v := range want {
		if verdict[k] != v {
			t.Errorf("%s: %q, want %q", k, verdict[k], v)
		}
	}
	tree, cleanup, err := drv.Open(ctx, "home", snap.Name, "")
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(tree, "f")); string(data) != "data" {
		t.Errorf("replica reads %q", data)
	}
	cleanup()
	if err := drv.Delete(ctx, "home", "scratch"); err == nil {
		t.Error("a foreign subvolume was deleted")
	}
	if err := drv.Delete(ctx, "home", "home.20261108T0200"); err != nil {
		t.Fatal(err)
	}
	copies, _ = drv.List(ctx, "home")
	if got := len(copies); got != 2 || !slices.ContainsFunc(copies, func(c target.Copy) bool { return c.Name == "scratch" }) {
		t.Errorf("after deleting the half-received replica: %+v", copies)
	}

	// A drive declared with another UUID is absent: deferred, and no write.
	other := *d
	l := other.Locations["WD-18TB"]
	l.UUID = "00000000-0000-4000-8000-000000000000"
	other.Locations = map[string]schema.Location{"WD-18TB": l}
	wrong, _ := New(&other, "WD-18TB")
	if _, err := wrong.Receive(ctx, snap, "", nil); !errors.Is(err, target.ErrUnreachable) {
		t.Errorf("receive onto another filesystem: %v, want unreachable", err)
	}
}
