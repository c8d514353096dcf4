package verify

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// mtime is an arbitrary instant with full nanosecond precision.
var mtime = time.Unix(1_600_000_000, 123_456_789)

func writeFile(t *testing.T, p string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	setMtime(t, p, mtime)
}

func setMtime(t *testing.T, p string, when time.Time) {
	t.Helper()
	ts := unix.NsecToTimespec(when.UnixNano())
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
	setMtime(t, p, mtime)
}

func setXattr(t *testing.T, p, name, value string) {
	t.Helper()
	if err := unix.Lsetxattr(p, name, []byte(value), 0); err != nil {
		t.Fatal(err)
	}
}

func cpA(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v: %s", err, out)
	}
}

func mustStat(t *testing.T, root, rel string) FileInfo {
	t.Helper()
	fi, err := Stat(root, rel)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// checkNames returns the sorted (rel, check) pairs of ms, the part a test
// can predict.
func checkNames(ms []Mismatch) [][2]string {
	var out [][2]string
	for _, m := range ms {
		out = append(out, [2]string{m.Rel, m.Check})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i][0] != out[j][0] {
			return out[i][0] < out[j][0]
		}
		return out[i][1] < out[j][1]
	})
	return out
}

func assertChecks(t *testing.T, ms []Mismatch, want [][2]string) {
	t.Helper()
	if diff := cmp.Diff(want, checkNames(ms)); diff != "" {
		t.Errorf("mismatches (-want +got):\n%s\nfull: %+v", diff, ms)
	}
}

// makeDeepTree creates under root a chain of directories starting with top
// whose path passes minLen bytes, with a file "deep.txt" ("deep data") at
// the bottom, all by directory fd (no path that long can be opened), and
// returns the file's rel. Mode and mtime are fixed, so copies compare.
func makeDeepTree(t *testing.T, root, top string, minLen int) string {
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

// openTempDir is t.TempDir opened to every user (t.TempDir's are 0700),
// for tests that drop root's privileges.
func openTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// nobody is the uid and gid asNobody runs as.
const nobody = 65534

// asNobody runs f with the effective uid and gid of nobody and no
// capabilities, so that permissions apply as they do to any user; a file
// root closed is then a real read error. It switches the whole process
// (setresuid applies to every thread), so tests using it must not run in
// parallel with others. The dumpable flag is restored so /proc/self/fd,
// which Stat and CompareTrees use, stays the process's own.
func asNobody(t *testing.T, f func()) {
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
