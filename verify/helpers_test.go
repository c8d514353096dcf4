package verify

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
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
