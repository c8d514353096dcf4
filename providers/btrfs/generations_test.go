package btrfs_test

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/sandbox"
)

// unchangedSince lists the files of tree whose inode item is no newer
// than gen, and checks each listed size against stat.
func unchangedSince(t *testing.T, tree string, gen uint64) []string {
	t.Helper()
	gens, err := btrfs.InodeGens(tree)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(gens, func(a, b btrfs.InodeGen) int { return int(a.Ino - b.Ino) }) {
		t.Error("inode generations are not ordered by inode number")
	}
	var same []string
	entries, _ := os.ReadDir(tree)
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		g, ok := btrfs.FindInode(gens, st.Ino)
		if !ok {
			t.Fatalf("%s: inode %d not in the tree search", e.Name(), st.Ino)
		}
		if g.Size != fi.Size() {
			t.Errorf("%s: size %d from the tree, stat says %d", e.Name(), g.Size, fi.Size())
		}
		if g.Transid <= gen {
			same = append(same, e.Name())
		}
	}
	return same
}

// TestInodeGensTellUnchangedFiles takes snapshot A, changes some files in
// ways that touch data, metadata only or replace the file, takes snapshot
// B, and sends both to a second filesystem: on either side, exactly the
// untouched files of B carry a transid no newer than A's generation.
func TestInodeGensTellUnchangedFiles(t *testing.T) {
	root := sandbox.TestFS(t, 0)
	drive := sandbox.TestFS(t, 0)
	src := filepath.Join(root, "src")
	btrfsCmd(t, "subvolume", "create", src)
	for _, name := range []string{"untouched", "untouched-too", "rewritten", "chmodded", "replaced", "removed"} {
		writeRandom(t, filepath.Join(src, name), 3000)
	}
	snapA, snapB := filepath.Join(root, "A"), filepath.Join(root, "B")
	btrfsCmd(t, "subvolume", "snapshot", "-r", src, snapA)
	btrfsCmd(t, "filesystem", "sync", root)
	writeRandom(t, filepath.Join(src, "rewritten"), 3000)
	if err := os.Chmod(filepath.Join(src, "chmodded"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(src, "replaced"))
	writeRandom(t, filepath.Join(src, "replaced"), 3000)
	os.Remove(filepath.Join(src, "removed"))
	writeRandom(t, filepath.Join(src, "added"), 10)
	btrfsCmd(t, "subvolume", "snapshot", "-r", src, snapB)

	want := []string{"untouched", "untouched-too"}
	if got := unchangedSince(t, snapB, info(t, snapA).Generation); !slices.Equal(got, want) {
		t.Errorf("local: unchanged since A = %q, want %q", got, want)
	}
	if got := unchangedSince(t, snapA, info(t, snapA).Generation); len(got) != 6 {
		t.Errorf("A itself: %d files unchanged since its own generation, want all 6", len(got))
	}
	if _, err := btrfs.Send(t.Context(), snapA, "", drive, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := btrfs.Send(t.Context(), snapB, snapA, drive, nil); err != nil {
		t.Fatal(err)
	}
	replicaA, replicaB := filepath.Join(drive, "A"), filepath.Join(drive, "B")
	if got := unchangedSince(t, replicaB, info(t, replicaA).Generation); !slices.Equal(got, want) {
		t.Errorf("replica: unchanged since A = %q, want %q", got, want)
	}
}
