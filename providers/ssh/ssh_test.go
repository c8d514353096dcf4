package ssh

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/target"
)

// remote is a backup host for one test: a loop-mounted btrfs of its own
// served by a real sshd on 127.0.0.1 through the generated filter.
type remote struct {
	server *Server
	root   string
	target *Target
}

func startRemote(t *testing.T) *remote {
	t.Helper()
	return startRemoteSized(t, 256)
}

func startRemoteSized(t *testing.T, sizeMiB int) *remote {
	t.Helper()
	if _, err := os.Stat(SSHD); err != nil {
		t.Skip("sshd not installed (scripts/install-deps.sh installs openssh-server)")
	}
	fs := sandbox.TestFS(t, sizeMiB)
	root := filepath.Join(fs, "drsync")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	srv := startServer(t, dir, root, freePort(t))
	return &remote{server: srv, root: root, target: New("backuphost", srv.Target)}
}

func startServer(t *testing.T, dir, root string, port int) *Server {
	t.Helper()
	srv, err := StartServer(t.Context(), dir, root, port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

func freePort(t *testing.T) int {
	_, port, _ := net.SplitHostPort(promtest.FreeAddr(t))
	n, _ := strconv.Atoi(port)
	return n
}

// source is a local subvolume with snapshots beside it.
type source struct {
	path, snapdir string
}

func newSource(t *testing.T, name string) source {
	t.Helper()
	fs := sandbox.TestFS(t, 256)
	s := source{path: filepath.Join(fs, name), snapdir: filepath.Join(fs, "snapshots")}
	if err := btrfs.Create(t.Context(), s.path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(s.snapdir, 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s source) write(t *testing.T, name string, size int) []byte {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(s.path, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

func (s source) snapshot(t *testing.T, name string) target.Snapshot {
	t.Helper()
	p := filepath.Join(s.snapdir, name)
	if err := btrfs.Snapshot(t.Context(), s.path, p); err != nil {
		t.Fatal(err)
	}
	return target.Snapshot{Subvolume: "home", Name: name, Path: p}
}

func names(copies []target.Copy, ok func(target.Copy) bool) []string {
	var out []string
	for _, c := range copies {
		if ok(c) {
			out = append(out, c.Name)
		}
	}
	return out
}

func TestIncrementalSendOverSSH(t *testing.T) {
	r := startRemote(t)
	src := newSource(t, "home")
	ctx := t.Context()
	if err := r.target.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	src.write(t, "big", 4<<20)
	first := src.snapshot(t, "home.20261115T0200")
	full, err := r.target.Receive(ctx, first, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	changed := src.write(t, "small", 10<<10)
	second := src.snapshot(t, "home.20261122T0200")
	incr, err := r.target.Receive(ctx, second, first.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("full %d bytes, incremental %d bytes", full, incr)
	if full < 4<<20 || incr > 256<<10 {
		t.Errorf("full send %d bytes, incremental %d: want ≥ 4 MiB and about the 10 KiB change", full, incr)
	}
	copies, err := r.target.List(ctx, "home")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(copies, target.Copy.Restorable); !slices.Equal(got, []string{first.Name, second.Name}) {
		t.Fatalf("restorable replicas %v (all: %+v)", got, copies)
	}
	// The replica on the host is a received subvolume, read-only.
	info, err := btrfs.Info(filepath.Join(r.root, "home", second.Name))
	if err != nil || info.ReceivedUUID == "" || !info.ReadOnly {
		t.Fatalf("remote replica %+v, %v: want read-only with a received UUID", info, err)
	}

	// A restore test reads the replica back from the host.
	scratch := filepath.Join(filepath.Dir(src.path), "scratch")
	if err := os.Mkdir(scratch, 0o700); err != nil {
		t.Fatal(err)
	}
	tree, cleanup, err := r.target.Open(ctx, "home", second.Name, scratch)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(tree, "small"))
	if err != nil || !bytes.Equal(got, changed) {
		t.Errorf("restored file differs from the source (err %v)", err)
	}
	if err := cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(tree); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open's cleanup left %s: %v", tree, err)
	}

	if err := r.target.Delete(ctx, "home", first.Name); err != nil {
		t.Fatal(err)
	}
	copies, _ = r.target.List(ctx, "home")
	if got := names(copies, target.Copy.Restorable); !slices.Equal(got, []string{second.Name}) {
		t.Errorf("after delete: %v", got)
	}
}

func TestForeignEntriesOnTheHostAreLeftAlone(t *testing.T) {
	r := startRemote(t)
	dir := filepath.Join(r.root, "home")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A subvolume named like a replica that drsync never received (btrbk's,
	// or made by hand), a plain directory and a symlink out of the root.
	if err := btrfs.Create(t.Context(), filepath.Join(dir, "home.20261101T0200")); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "notes"), 0o755)
	os.Symlink("/etc", filepath.Join(dir, "home.20261102T0200"))
	copies, err := r.target.List(t.Context(), "home")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(copies, func(c target.Copy) bool { return c.Foreign }); len(got) != 3 {
		t.Fatalf("foreign %v, want all three (copies %+v)", got, copies)
	}
	for _, name := range []string{"home.20261101T0200", "home.20261102T0200", "notes"} {
		if err := r.target.Delete(t.Context(), "home", name); err == nil {
			t.Errorf("Delete(%s) succeeded on a foreign entry", name)
		}
		// Even a client that skips its own check is refused by the filter.
		if _, err := r.target.run(t.Context(), "delete", "home", name); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("filter delete %s: %v, want refused", name, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "home.20261101T0200")); err != nil {
		t.Errorf("foreign subvolume gone: %v", err)
	}
}

func TestFilterRefusesEverythingElse(t *testing.T) {
	r := startRemote(t)
	if err := os.WriteFile(filepath.Join(filepath.Dir(r.root), "secret"), []byte("s3cr3t"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := r.server.Target
	for _, command := range []string{
		"", // a login shell
		"cat " + filepath.Join(filepath.Dir(r.root), "secret"), // any other program
		"btrfs subvolume delete " + r.root,
		"drsync list ../",
		"drsync list home/../..",
		"drsync list home;id",
		"drsync list $(id)",
		"drsync receive home",        // receive needs the name it will commit
		"drsync send home ../../etc", // reading outside the root
		"drsync delete home",         // wrong arity
		"drsync probe extra",
		"drsync shell",
	} {
		cmd := exec.Command("ssh", "-F", "none", "-i", cfg.IdentityFile, "-p", strconv.Itoa(cfg.Port), "-l", cfg.User,
			"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile="+cfg.KnownHosts,
			"-o", "GlobalKnownHostsFile=/dev/null", "-T", cfg.Host, command)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 126 || !strings.Contains(string(out), "drsync-filter: refused") {
			t.Errorf("%q: %v, output %q: want refused by the filter (exit 126)", command, err, out)
		}
		if strings.Contains(string(out), "s3cr3t") || strings.Contains(string(out), "uid=") {
			t.Errorf("%q leaked: %q", command, out)
		}
	}
}

func TestHostKeyIsPinned(t *testing.T) {
	r := startRemote(t)
	other := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(other, []byte("[127.0.0.1]:"+strconv.Itoa(r.server.Target.Port)+" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmYZvq8mqjJFeYV8TwWcxK3mdhNl7cW8wvOQd/2uJlS\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := r.server.Target
	cfg.KnownHosts = other
	err := New("backuphost", cfg).Probe(t.Context())
	if err == nil || errors.Is(err, target.ErrUnreachable) || !strings.Contains(err.Error(), "Host key verification failed") {
		t.Errorf("probe with a wrong host key: %v, want a host key error that is not deferred", err)
	}
	cfg = r.server.Target
	cfg.IdentityFile = filepath.Join(r.server.Dir, "host_ed25519") // a key the host does not know
	if err := New("backuphost", cfg).Probe(t.Context()); err == nil || errors.Is(err, target.ErrUnreachable) {
		t.Errorf("probe with a wrong key: %v, want an error that is not deferred", err)
	}
	cfg = r.server.Target
	cfg.Port = freePort(t)
	if err := New("backuphost", cfg).Probe(t.Context()); !errors.Is(err, target.ErrUnreachable) {
		t.Errorf("probe of a closed port: %v, want unreachable", err)
	}
}

func TestSSHDKilledMidReceive(t *testing.T) {
	r := startRemote(t)
	src := newSource(t, "home")
	src.write(t, "big", 24<<20)
	snap := src.snapshot(t, "home.20261115T0200")
	// Paced to 4 MiB/s, the send takes about 6 s; sshd dies after 1 s.
	cfg := r.server.Target
	cfg.BandwidthLimit = "4M"
	slow := New("backuphost", cfg)
	killed := make(chan error, 1)
	go func() {
		time.Sleep(time.Second)
		killed <- r.server.Kill()
	}()
	n, err := slow.Receive(t.Context(), snap, "", nil)
	if kerr := <-killed; kerr != nil {
		t.Fatal(kerr)
	}
	if err == nil {
		t.Fatalf("receive succeeded after sshd was killed (%d bytes)", n)
	}
	t.Logf("sent %d bytes before: %v", n, err)

	// The host comes back: what the cut stream left is not a replica, and
	// the next run removes it and sends again.
	srv := startServer(t, t.TempDir(), r.root, freePort(t))
	tgt := New("backuphost", srv.Target)
	waitSettled(t, tgt, snap.Name)
	copies, err := tgt.List(t.Context(), "home")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(copies, target.Copy.Restorable); len(got) != 0 {
		t.Fatalf("after the cut, restorable replicas %v: a partial stream was taken for complete", got)
	}
	for _, c := range copies {
		if c.Foreign {
			t.Fatalf("the interrupted receive is not recognised as drsync's: %+v", c)
		}
		if err := tgt.Delete(t.Context(), "home", c.Name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tgt.Receive(t.Context(), snap, "", nil); err != nil {
		t.Fatal(err)
	}
	copies, _ = tgt.List(t.Context(), "home")
	if got := names(copies, target.Copy.Restorable); !slices.Equal(got, []string{snap.Name}) {
		t.Errorf("after the resend: %+v", copies)
	}
}

func TestRemoteFilesystemFull(t *testing.T) {
	r := startRemoteSized(t, 128)
	src := newSource(t, "home")
	src.write(t, "big", 160<<20)
	snap := src.snapshot(t, "home.20261115T0200")
	n, err := r.target.Receive(t.Context(), snap, "", nil)
	if err == nil {
		t.Fatalf("a 160 MiB send into a 128 MiB filesystem succeeded (%d bytes)", n)
	}
	t.Logf("after %d bytes: %v", n, err)
	copies, err := r.target.List(t.Context(), "home")
	if err != nil {
		t.Fatal(err)
	}
	if len(copies) != 0 {
		t.Errorf("the failed receive left %+v; the abort should have removed it", copies)
	}
	// Space comes back once the partial subvolume's extents are freed.
	if out, err := exec.Command("btrfs", "subvolume", "sync", r.root).CombinedOutput(); err != nil {
		t.Logf("subvolume sync: %v %s", err, out)
	}
	src.write(t, "big", 1<<20)
	small := src.snapshot(t, "home.20261122T0200")
	if _, err := r.target.Receive(t.Context(), small, "", nil); err != nil {
		t.Errorf("a send that fits after the failure: %v", err)
	}
}

// waitSettled waits for the remote btrfs receive of a cut connection to
// notice and exit, so the listing sees its final state.
func waitSettled(t *testing.T, tgt *Target, name string) {
	t.Helper()
	for range 100 {
		out, _ := exec.Command("pgrep", "-f", "btrfs receive "+tgt.cfg.Path).Output()
		if len(bytes.TrimSpace(out)) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the remote btrfs receive of %s never ended", name)
}

func TestParseList(t *testing.T) {
	out := []byte(`subvolume home.20261101T0200 u1 r1 readonly
complete home.20261101T0200
subvolume home.20261108T0200 u2 - -
incoming home.20261108T0200
incoming home.20261115T0200
subvolume home.20261109T0200 u3 r3 readonly
subvolume home.20261110T0200 u4 r4 -
complete home.20261110T0200
other notes
subvolume root.20261101T0200 u5 r5 readonly
complete root.20261101T0200
`)
	copies, err := parseList("home", out, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	type verdict struct{ complete, foreign, broken bool }
	got := map[string]verdict{}
	for _, c := range copies {
		got[c.Name] = verdict{c.Complete, c.Foreign, c.Broken != ""}
	}
	want := map[string]verdict{
		"home.20261101T0200": {complete: true},
		"home.20261108T0200": {},              // interrupted receive, ours to remove
		"home.20261115T0200": {},              // receive marked, nothing created yet
		"home.20261109T0200": {foreign: true}, // never received by drsync
		"home.20261110T0200": {broken: true},  // marked complete but writable
		"notes":              {foreign: true},
		"root.20261101T0200": {foreign: true}, // another subvolume's name
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %+v, want %+v", name, got[name], w)
		}
	}
	if _, err := parseList("home", []byte("rm -rf /\n"), time.UTC); err == nil {
		t.Error("an unexpected line was accepted")
	}
}
