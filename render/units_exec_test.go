package render_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/internal/systemdtest"
	"github.com/drsync/drsync/render"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/schema"
)

// unitDesired is a desired state rooted in a loop-mounted btrfs, so that
// the units' command lines, which name no tag and no storage, act on the
// sandbox alone.
const unitDesired = `package drsync

root: %s
generate: {binary: %s, desiredFile: %s}
locations: pool: path: "\(root)/.snapshots"
tiers: "1": {rpo: "7d", rto: "1h"}
subvolumes: docs: {tier: "1", source: "\(root)/docs", snapshots: {location: "pool", schedule: "daily 02:00", retention: daily: 7}}
`

// TestUnitsExecStart executes the ExecStart= of every generated service,
// as systemd parses it, against a btrfs sandbox: a oneshot must exit 0 and
// have done its work, a long-running service must serve. The drsync binary
// and the desired state live under paths with spaces, quotes, %, $ and \.
func TestUnitsExecStart(t *testing.T) {
	mnt := sandbox.TestFS(t, 0)
	unshare := promtest.Tool(t, "unshare", "util-linux")
	promtest.Tool(t, "ip", "iproute2")
	if out, err := exec.Command("btrfs", "subvolume", "create", filepath.Join(mnt, "docs")).CombinedOutput(); err != nil {
		t.Fatalf("btrfs subvolume create: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(mnt, "docs", "notes.txt"), []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin dir 100%", "drsync")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/drsync/drsync/cmd/drsync").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	file := filepath.Join(tmp, `conf 'q' "dq" 100% $HOME \ ;x`, "drsync.cue")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(fmt.Sprintf(unitDesired, cueString(mnt), cueString(bin), cueString(file))), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := schema.Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	units, err := render.SystemdUnits(view.Input{Desired: d, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	unitDir := t.TempDir()
	ran := 0
	for _, name := range slices.Sorted(maps.Keys(units)) {
		path := filepath.Join(unitDir, name)
		if err := os.WriteFile(path, units[name], 0o644); err != nil {
			t.Fatal(err)
		}
		systemdtest.Verify(t, path)
		if !strings.HasSuffix(name, ".service") {
			continue
		}
		argv, err := systemdtest.ExecStart(t, path)
		if err != nil {
			t.Fatal(err)
		}
		if argv[0] != bin {
			t.Fatalf("%s runs %q, not the declared binary %q", name, argv[0], bin)
		}
		switch unitType(units[name]) {
		case "oneshot":
			runOneshot(t, name, argv)
			snaps, _ := filepath.Glob(filepath.Join(mnt, ".snapshots", "docs", "docs.*"))
			if len(snaps) == 0 {
				t.Errorf("%s exited 0 but took no snapshot of docs", name)
			}
		case "simple":
			runServer(t, name, unshare, argv)
		default:
			t.Fatalf("%s: no Type= this test knows", name)
		}
		ran++
	}
	if ran != 2 {
		t.Errorf("executed %d services, want the apply and the watch service", ran)
	}
}

func cueString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func unitType(unit []byte) string {
	for _, line := range strings.Split(string(unit), "\n") {
		if v, ok := strings.CutPrefix(line, "Type="); ok {
			return v
		}
	}
	return ""
}

// runOneshot runs argv as systemd would start the unit and wants exit 0.
func runOneshot(t *testing.T, name string, argv []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %q failed: %v\n%s", name, argv, err, out)
	}
}

// runServer starts argv in a network namespace of its own (loopback up),
// so its fixed listen address cannot collide with anything on the
// machine, waits until it answers /healthz there, then stops it with
// SIGTERM as systemd would and wants a clean exit.
func runServer(t *testing.T, name, unshare string, argv []string) {
	t.Helper()
	args := append([]string{"--net", "sh", "-c", `ip link set lo up && exec "$@"`, "sh"}, argv...)
	cmd := exec.Command(unshare, args...)
	// Output goes to a file, read only for messages: no pipe to drain.
	logFile := filepath.Join(t.TempDir(), name+".log")
	log, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	output := func() string { b, _ := os.ReadFile(logFile); return string(b) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// exited is closed when the process has been waited for; waitErr is
	// its result.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-exited:
			t.Fatalf("%s: %q exited before serving: %v\n%s", name, argv, waitErr, output())
		case <-time.After(200 * time.Millisecond):
		}
		if healthy(cmd.Process.Pid, "127.0.0.1:9813") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q never served /healthz\n%s", name, argv, output())
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("%s: exit after SIGTERM: %v\n%s", name, waitErr, output())
		}
	case <-time.After(time.Minute):
		t.Errorf("%s: still running a minute after SIGTERM\n%s", name, output())
	}
}

// healthy asks GET /healthz at addr inside the network namespace of pid.
// The socket is made on a thread moved into that namespace; the thread
// stays locked and is discarded when the goroutine ends.
func healthy(pid int, addr string) bool {
	ok := make(chan bool, 1)
	go func() {
		runtime.LockOSThread()
		ok <- func() bool {
			ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
			if err != nil {
				return false
			}
			defer ns.Close()
			if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
				return false
			}
			conn, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return false
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(conn, "GET /healthz HTTP/1.0\r\nHost: %s\r\n\r\n", addr)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				return false
			}
			io.Copy(io.Discard, resp.Body)
			return resp.StatusCode == http.StatusOK
		}()
	}()
	return <-ok
}
