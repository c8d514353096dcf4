// Package hostile gives tests a real unprivileged local user to attack
// drsync with: the user is created with useradd and removed afterwards,
// shell commands run under its uid through setpriv, and races run as a
// copy of the test binary under its uid (call Serve from an init function
// of the test package, so the copy becomes the attacker).
package hostile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const modeEnv = "DRSYNC_HOSTILE_MODE"

// Serve turns this process into the attacker when a test started it so;
// otherwise it returns at once. Modes:
//
//	exchange A B       swap A and B with renameat2(RENAME_EXCHANGE) until killed
//	swap DIR PREFIX B  exchange every entry of DIR named PREFIX* with B, again
//	                   and again (renameat2 RENAME_EXCHANGE)
//	hijack DIR PREFIX  move away every entry of DIR named PREFIX* that is not
//	                   the user's and put a 0777 directory of its own there
func Serve() {
	if os.Getenv(modeEnv) == "" {
		return
	}
	args := os.Args[1:]
	switch args[0] {
	case "exchange":
		fmt.Println("ready")
		for {
			_ = unix.Renameat2(unix.AT_FDCWD, args[1], unix.AT_FDCWD, args[2], unix.RENAME_EXCHANGE)
		}
	case "swap":
		fmt.Println("ready")
		swap(args[1], args[2], args[3])
	case "hijack":
		fmt.Println("ready")
		hijack(args[1], args[2])
	default:
		fmt.Fprintf(os.Stderr, "hostile: unknown mode %q\n", args[0])
		os.Exit(2)
	}
}

// User is a local user created for one test.
type User struct {
	Name     string
	UID, GID int
	binary   string
}

// NewUser creates a system user without a home directory, removed when the
// test ends. Tests that cannot create one (not root, no useradd) skip.
func NewUser(t testing.TB) *User {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating a hostile user needs root")
	}
	for _, tool := range []string{"useradd", "userdel", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("creating a hostile user needs %s: %v", tool, err)
		}
	}
	name := fmt.Sprintf("drsync-atk%d", os.Getpid()%100000)
	for i := 0; ; i++ {
		candidate := fmt.Sprintf("%s-%d", name, i)
		out, err := exec.Command("useradd", "--system", "--no-create-home", "--user-group",
			"--shell", "/usr/sbin/nologin", candidate).CombinedOutput()
		if err == nil {
			name = candidate
			break
		}
		if i > 20 {
			t.Fatalf("useradd: %v: %s", err, out)
		}
		// Another package's test may hold the lock on /etc/passwd.
		time.Sleep(time.Duration(i+1) * 50 * time.Millisecond)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
	})
	u := &User{Name: name}
	for field, dst := range map[string]*int{"-u": &u.UID, "-g": &u.GID} {
		out, err := exec.Command("id", field, name).Output()
		if err != nil {
			t.Fatalf("id %s %s: %v", field, name, err)
		}
		if *dst, err = strconv.Atoi(strings.TrimSpace(string(out))); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

// Sh runs script with sh as the user and fails the test if it fails.
func (u *User) Sh(t testing.TB, script string) {
	t.Helper()
	out, err := exec.Command("setpriv", "--reuid", strconv.Itoa(u.UID), "--regid", strconv.Itoa(u.GID),
		"--clear-groups", "--", "sh", "-ec", script).CombinedOutput()
	if err != nil {
		t.Fatalf("as %s: %s: %v: %s", u.Name, script, err, out)
	}
}

// Can reports whether script, run with sh as the user, succeeds.
func (u *User) Can(script string) bool {
	return exec.Command("setpriv", "--reuid", strconv.Itoa(u.UID), "--regid", strconv.Itoa(u.GID),
		"--clear-groups", "--", "sh", "-c", script).Run() == nil
}

// Own gives the user the paths (as if the user had made them).
func (u *User) Own(t testing.TB, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.Lchown(p, u.UID, u.GID); err != nil {
			t.Fatal(err)
		}
	}
}

// Start runs a Serve mode as the user until the test ends (or stop is
// called), once the attacker says it is running.
func (u *User) Start(t testing.TB, mode ...string) (stop func()) {
	t.Helper()
	cmd := exec.Command(u.attacker(t), mode...)
	cmd.Env = append(os.Environ(), modeEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID)}}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make([]byte, len("ready\n"))
	if _, err := io.ReadFull(out, ready); err != nil {
		t.Fatalf("attacker did not start: %v", err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	return stop
}

// attacker copies the test binary where the user can run it.
func (u *User) attacker(t testing.TB) string {
	t.Helper()
	if u.binary != "" {
		return u.binary
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "drsync-hostile-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	u.binary = filepath.Join(dir, "attacker")
	if err := os.WriteFile(u.binary, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return u.binary
}

// Reachable makes dir and its parents up to / searchable by everyone, so the
// user can reach what the test hands it below t.TempDir (made 0700).
func Reachable(t testing.TB, dir string) {
	t.Helper()
	for p := filepath.Clean(dir); p != "/"; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		keep := fi.Mode() & (fs.ModePerm | fs.ModeSticky | fs.ModeSetgid | fs.ModeSetuid)
		if keep&0o011 == 0o011 {
			continue
		}
		if err := os.Chmod(p, keep|0o011); err != nil {
			t.Fatal(err)
		}
	}
}

func hijack(dir, prefix string) {
	mine := os.Getuid()
	for n := 0; ; n++ {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), prefix) {
				continue
			}
			p := filepath.Join(dir, e.Name())
			var st unix.Stat_t
			if unix.Lstat(p, &st) != nil || int(st.Uid) == mine {
				continue
			}
			if os.Rename(p, filepath.Join(dir, fmt.Sprintf(".stolen-%d", n))) == nil {
				os.Mkdir(p, 0o777)
				os.Chmod(p, 0o777)
			}
		}
	}
}

func swap(dir, prefix, other string) {
	for {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), prefix) {
				_ = unix.Renameat2(unix.AT_FDCWD, filepath.Join(dir, e.Name()), unix.AT_FDCWD, other, unix.RENAME_EXCHANGE)
			}
		}
	}
}
