// Package testtree builds the trees and conditions the tests of verify and
// its sub-packages share: paths beyond PATH_MAX, directories every user can
// reach, code run as nobody.
package testtree

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// MakeDeepTree creates under root a chain of directories starting with top
// whose path passes minLen bytes, with a file "deep.txt" ("deep data") at
// the bottom, all by directory fd (no path that long can be opened), and
// returns the file's rel. Modes are fixed and the file's mtime is mtime, so
// copies compare.
func MakeDeepTree(t testing.TB, root, top string, minLen int, mtime time.Time) string {
	t.Helper()
	name := strings.Repeat("d", 250)
	if err := os.Mkdir(filepath.Join(root, top), 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(filepath.Join(root, top), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	rel := top
	for len(rel) < minLen {
		if err := unix.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd, rel = next, rel+"/"+name
	}
	defer unix.Close(fd)
	f, err := unix.Openat(fd, "deep.txt", unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	_, err = unix.Write(f, []byte("deep data"))
	unix.Close(f)
	if err != nil {
		t.Fatal(err)
	}
	ts := unix.NsecToTimespec(mtime.UnixNano())
	if err := unix.UtimesNanoAt(fd, "deep.txt", []unix.Timespec{ts, ts}, 0); err != nil {
		t.Fatal(err)
	}
	return rel + "/deep.txt"
}

// OpenTempDir is t.TempDir opened to every user (t.TempDir's are 0700),
// for tests that drop root's privileges.
func OpenTempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// FastTempDir prefers tmpfs, for tests that create or remove many
// thousands of files.
func FastTempDir(t testing.TB) string {
	t.Helper()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		dir, err := os.MkdirTemp("/dev/shm", "verify-test-")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// nobody is the uid and gid AsNobody runs as.
const nobody = 65534

// AsNobody runs f with the effective uid and gid of nobody and no
// capabilities, so that permissions apply as they do to any user; a file
// root closed is then a real read error. It switches the whole process
// (setresuid applies to every thread), so tests using it must not run in
// parallel with others. The dumpable flag is restored so /proc/self/fd,
// which verify's Stat and CompareTrees use, stays the process's own.
func AsNobody(t testing.TB, f func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to nobody and back")
	}
	if err := syscall.Setresgid(-1, nobody, -1); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setresuid(-1, nobody, -1); err != nil {
		syscall.Setresgid(-1, 0, -1)
		t.Fatal(err)
	}
	defer func() {
		if err := syscall.Setresuid(-1, 0, -1); err != nil {
			panic(err) // the rest of the tests would run unprivileged
		}
		if err := syscall.Setresgid(-1, 0, -1); err != nil {
			panic(err)
		}
	}()
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0); err != nil {
		t.Errorf("dumpable: %v", err)
		return
	}
	f()
}
