package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
)

// watchRig runs the real `drsync watch` binary against a local bare git
// repository, reconciling a plain-directory sandbox (no root needed).
type watchRig struct {
	t             *testing.T
	dir, bare, wc string
	root, listen  string
	secret        string
	cmd           *exec.Cmd
	stderr        strings.Builder
}

func buildDrsync(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "drsync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

const watchDesired = `package drsync

root: *"" | string @tag(root)

stateDir: "\(root)/state"
generate: enabled: {alertRules: false, scrapeConfig: false, dashboard: false, systemd: false, runbooks: false}
locations: pool: path: "\(root)/pool/.snapshots"
tiers: "1": {rpo: "7d", rto: "1h", restoreTest: every: "1000d"}
subvolumes: {
%s}
`

const docsSubvolume = `	docs: {tier: "1", source: "\(root)/pool/docs", snapshots: {location: "pool", schedule: "daily 02:00", retention: daily: 7}}
`

func newWatchRig(t *testing.T) *watchRig {
	t.Helper()
	for _, tool := range []string{"git", "git-upload-pack"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	dir := t.TempDir()
	r := &watchRig{t: t, dir: dir, bare: filepath.Join(dir, "remote.git"), wc: filepath.Join(dir, "wc"),
		root: filepath.Join(dir, "root"), secret: "s3cret"}
	for _, d := range []string{"pool/docs/notes", "pool/media/photos", "pool/.snapshots"} {
		os.MkdirAll(filepath.Join(r.root, d), 0o755)
	}
	os.WriteFile(filepath.Join(r.root, "pool/docs/notes/a.txt"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(r.root, "pool/media/photos/p.raw"), []byte("p"), 0o644)
	r.git(dir, "init", "--bare", "-b", "main", r.bare)
	r.git(dir, "clone", r.bare, r.wc)
	os.WriteFile(filepath.Join(dir, "secret"), []byte(r.secret+"\n"), 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.listen = ln.Addr().String()
	ln.Close()
	return r
}

func (r *watchRig) git(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// push commits content as drsync.cue and returns the commit.
func (r *watchRig) push(content, msg string) string {
	os.WriteFile(filepath.Join(r.wc, "drsync.cue"), []byte(content), 0o644)
	r.git(r.wc, "add", "drsync.cue")
	r.git(r.wc, "commit", "-m", msg)
	r.git(r.wc, "push", "origin", "HEAD:main")
	return r.git(r.wc, "rev-parse", "HEAD")
}

// start runs the watch; extra flags come last and override (--path, --host).
func (r *watchRig) start(bin string, interval string, extra ...string) {
	r.cmd = exec.Command(bin, append([]string{"watch", "--repo", r.bare, "--branch", "main", "--path", "drsync.cue",
		"--interval", interval, "--listen", r.listen, "--webhook-secret-file", filepath.Join(r.dir, "secret"),
		"--work-dir", filepath.Join(r.dir, "watch"), "--storage", "dir", "-t", "root=" + r.root}, extra...)...)
	r.cmd.Stderr = &r.stderr
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			r.cmd.Process.Kill()
			r.cmd.Wait()
		}
	})
}

type watchStatus struct {
	LastApplied   string `json:"last_applied_revision"`
	LastAttempted string `json:"last_attempted_revision"`
	LastError     string `json:"last_error"`
	LastResult    string `json:"last_result"`
	Reconciling   bool   `json:"reconciling"`
}

func (r *watchRig) status() watchStatus {
	var s watchStatus
	resp, err := http.Get("http://" + r.listen + "/status")
	if err != nil {
		return s
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&s)
	return s
}

// await polls /status until cond holds, for at most limit.
func (r *watchRig) await(what string, limit time.Duration, cond func(watchStatus) bool) watchStatus {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		s := r.status()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: not within %s; status %+v\nstderr:\n%s", what, limit, s, r.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *watchRig) hook(body, secret string) int {
	req, _ := http.NewRequest(http.MethodPost, "http://"+r.listen+"/hook", strings.NewReader(body))
	if secret != "" {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(body))
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func snapshotsIn(t *testing.T, dir string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestWatchFollowsGit(t *testing.T) {
	r := newWatchRig(t)
	bin := buildDrsync(t)
	first := r.push(fmt.Sprintf(watchDesired, docsSubvolume), "docs")
	r.start(bin, "300ms")
	r.await("first commit applied", 20*time.Second, func(s watchStatus) bool { return s.LastApplied == first })
	if got := snapshotsIn(t, filepath.Join(r.root, "pool/.snapshots/docs")); len(got) != 1 {
		t.Fatalf("docs snapshots after the first reconcile: %v", got)
	}

	// A push that adds a subvolume is applied.
	second := r.push(fmt.Sprintf(watchDesired, docsSubvolume+
		`	media: {tier: "1", source: "\(root)/pool/media", snapshots: {location: "pool", schedule: "daily 02:00", retention: daily: 7}}
`), "add media")
	r.await("media commit applied", 20*time.Second, func(s watchStatus) bool { return s.LastApplied == second })
	if got := snapshotsIn(t, filepath.Join(r.root, "pool/.snapshots/media")); len(got) != 1 {
		t.Fatalf("media snapshots after its commit: %v", got)
	}

	// A broken commit is never applied; the error names file:line and the commit.
	broken := r.push(fmt.Sprintf(watchDesired, docsSubvolume)+"subvolumes: docs: tier: 9\n", "broken")
	s := r.await("broken commit attempted", 20*time.Second, func(s watchStatus) bool { return s.LastAttempted == broken })
	if s.LastApplied != second || !strings.Contains(s.LastError, "drsync.cue:") || !strings.Contains(s.LastError, broken[:7]) ||
		strings.Contains(s.LastError, "checkouts/") {
		t.Fatalf("after a broken commit: %+v", s)
	}

	// The webhook: a wrong signature gets 401, a right one fetches at once.
	if code := r.hook(`{"ref":"refs/heads/main"}`, "wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong signature: %d", code)
	}
	if code := r.hook(`{"ref":"refs/heads/main"}`, ""); code != http.StatusUnauthorized {
		t.Errorf("missing signature: %d", code)
	}
	fixed := r.push(fmt.Sprintf(watchDesired, docsSubvolume), "fix: drop media again")
	if code := r.hook(`{"ref":"refs/heads/main"}`, r.secret); code != http.StatusAccepted {
		t.Errorf("right signature: %d", code)
	}
	s = r.await("fix applied", 20*time.Second, func(s watchStatus) bool { return s.LastApplied == fixed })
	if s.LastError != "" {
		t.Errorf("error kept after the fix: %q", s.LastError)
	}
	resp, err := http.Get("http://" + r.listen + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var metrics strings.Builder
	buf := make([]byte, 1<<16)
	for {
		n, err := resp.Body.Read(buf)
		metrics.Write(buf[:n])
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	for _, m := range []string{"drsync_watch_reconciles_total", `backup_snapshots{location="local"`, "drsync_watch_last_applied_revision_info"} {
		if !strings.Contains(metrics.String(), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}

	// SIGTERM during an apply: the running action finishes, the rest is
	// skipped and journaled, watch exits 0, and the lock is free.
	big := filepath.Join(r.root, "pool/big")
	os.MkdirAll(big, 0o755)
	chunk := []byte(strings.Repeat("drsync!", 1<<20/7+1))[:1<<20]
	f, _ := os.Create(filepath.Join(big, "big.bin"))
	for i := 0; i < 384; i++ {
		f.Write(chunk)
	}
	f.Close()
	slow := r.push(fmt.Sprintf(watchDesired, docsSubvolume+
		`	big: {tier: "1", source: "\(root)/pool/big", snapshots: {location: "pool", schedule: "daily 02:00", retention: daily: 7}}
`), "add big")
	r.await("the slow apply started", 20*time.Second, func(s watchStatus) bool { return s.Reconciling && s.LastAttempted == slow })
	r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("watch exit after SIGTERM: %v\n%s", err, r.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("watch did not exit after SIGTERM")
	}
	state := filepath.Join(r.root, "state")
	j, _ := journal.OpenJournal(state)
	sum, err := j.Summary()
	if err != nil || len(sum.Interrupted) != 0 {
		t.Errorf("journal after SIGTERM: %v interrupted %v", err, sum.Interrupted)
	}
	if sum.Last.Result != "stopped" && sum.Last.Result != "ok" {
		t.Errorf("last run after SIGTERM: %+v", sum.Last)
	}
	t.Logf("last run after SIGTERM: %s", sum.Last.Result)
	for _, e := range mustEntries(t, j) {
		if e.Phase == model.PhaseStart && e.Action != nil {
			if _, err := os.Stat(e.Action.Path); e.Action.Kind == model.KindSnapshot && err != nil {
				t.Errorf("journaled snapshot %s is missing: %v", e.Action.Path, err)
			}
		}
	}
	for _, name := range snapshotsIn(t, filepath.Join(r.root, "pool/.snapshots/big")) {
		if strings.Contains(name, ".partial") {
			t.Errorf("half-made snapshot left: %s", name)
		}
	}
	lock, err := reconcile.AcquireLock(state, "test")
	if err != nil {
		t.Errorf("lock after SIGTERM: %v", err)
	}
	lock.Release()
}

func mustEntries(t *testing.T, j *journal.Journal) []model.JournalEntry {
	t.Helper()
	entries, err := j.Entries()
	if err != nil {
		t.Fatal(err)
	}
	return entries
}
