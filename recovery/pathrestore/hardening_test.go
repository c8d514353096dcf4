package pathrestore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/hostile"
	"github.com/drsync/drsync/recovery/pathrestore"
	"github.com/drsync/drsync/sandbox"
)

func init() { hostile.Serve() }

// TestRestoreRenameRace is issue 11 item 4: a user restores a directory
// into their own home while, as that user, a process exchanges drsync's
// temporary directory with one of its own (renameat2 RENAME_EXCHANGE in a
// loop) whose entry points at root-owned directories. Root must not
// chown or chmod anything outside the restore: the root-owned
// directories keep owner and mode.
func TestRestoreRenameRace(t *testing.T) {
	mnt := sandbox.TestFS(t, 0)
	u := hostile.NewUser(t)
	snap, home, victim := filepath.Join(mnt, "snap"), filepath.Join(mnt, "home"), filepath.Join(mnt, "etc")
	const dirs = 40
	for i := range dirs {
		d := fmt.Sprintf("d%02d", i)
		mustDo(t, os.MkdirAll(filepath.Join(snap, "docs", d), 0o755))
		mustDo(t, os.Chmod(filepath.Join(snap, "docs", d), 0o777))
		mustDo(t, os.Chown(filepath.Join(snap, "docs", d), u.UID, u.GID))
		mustDo(t, os.MkdirAll(filepath.Join(victim, d), 0o700))
	}
	mustDo(t, os.Chown(filepath.Join(snap, "docs"), u.UID, u.GID))
	mustDo(t, os.Mkdir(home, 0o755))
	hostile.Reachable(t, home)
	u.Own(t, home)
	evil := filepath.Join(home, "evil")
	u.Sh(t, "mkdir "+evil+" && ln -s "+victim+" "+filepath.Join(evil, "docs"))
	u.Start(t, "swap", home, ".drsync-restore-", evil)

	for i := range 5 {
		dest := filepath.Join(home, fmt.Sprintf("restored-%d", i))
		if _, err := pathrestore.Restore(context.Background(), snap, "docs", dest, false); err != nil {
			t.Errorf("restore %d under the race: %v", i, err)
		}
	}
	changed := 0
	for i := range dirs {
		var st unix.Stat_t
		mustDo(t, unix.Lstat(filepath.Join(victim, fmt.Sprintf("d%02d", i)), &st))
		if st.Uid != 0 || st.Mode&0o7777 != 0o700 {
			changed++
		}
	}
	if changed > 0 {
		t.Errorf("%d root-owned directories outside the restore got the user's owner or mode", changed)
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
