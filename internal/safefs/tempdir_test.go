package safefs_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/hostile"
	"github.com/drsync/drsync/internal/safefs"
)

func init() { hostile.Serve() }

// TestNewTempDirUnderExchange: the user owning the parent exchanges every
// new temporary name with a directory of their own, in a loop, so some
// exchanges land between drsync's mkdir and its open. Every TempDir handed
// out must still be the private, empty, root-made directory, never the
// user's: a restore writes into it and later empties it.
func TestNewTempDirUnderExchange(t *testing.T) {
	u := hostile.NewUser(t)
	home := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	hostile.Reachable(t, home)
	u.Own(t, home)
	theirs := filepath.Join(home, "theirs")
	u.Sh(t, "mkdir "+theirs+" && touch "+theirs+"/keep")
	stop := u.Start(t, "swap", home, ".drsync-restore-", theirs)

	parent, err := unix.Open(home, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(parent)
	for i := range 3000 {
		tmp, err := safefs.NewTempDir(parent, home)
		if err != nil {
			t.Fatalf("temp dir %d: %v", i, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(tmp.FD, &st); err != nil {
			t.Fatal(err)
		}
		names, _ := os.ReadDir(safefs.ProcPath(tmp.FD, ""))
		if int(st.Uid) != os.Geteuid() || st.Mode&0o7777 != 0o700 || len(names) != 0 {
			t.Fatalf("temp dir %d is not drsync's own: uid %d, mode %o, %d entries", i, st.Uid, st.Mode&0o7777, len(names))
		}
		tmp.Remove(parent)
	}
	stop()
	// The last exchange may have left the user's directory under a
	// temporary name: look in every directory.
	if matches, _ := filepath.Glob(filepath.Join(home, "*", "keep")); len(matches) != 1 {
		t.Errorf("the user's file: found %q, want it once", matches)
	}
}

// A TempDir is removed with what was written into it, leaving its parent as
// it was.
func TestTempDirRemoveLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	parent, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(parent)
	tmp, err := safefs.NewTempDir(parent, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(safefs.ProcPath(tmp.FD, "a/b"), 0o700); err != nil {
		t.Fatal(err)
	}
	tmp.Remove(parent)
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left in the parent: %v", left)
	}
}
