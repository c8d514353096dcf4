package watch

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/reconcile/model"
)

// fakeReconciler records calls. Validate rejects a desired state containing
// BROKEN with a file:line error, as schema.Load would; Reconcile can be
// made slow.
type fakeReconciler struct {
	delay    time.Duration
	started  chan struct{} // if set, receives (without blocking) as each Reconcile starts
	gatherer *prometheus.Registry

	mu         sync.Mutex
	validated  []string
	reconciles []reconcileCall
}

type reconcileCall struct {
	path         string
	apply        bool
	done         time.Time
	ctxCancelled bool // the reconcile's own context was done when it returned
}

func (f *fakeReconciler) Validate(_ context.Context, path string) error {
	f.mu.Lock()
	f.validated = append(f.validated, path)
	f.mu.Unlock()
	files := []string{path}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		files, _ = filepath.Glob(filepath.Join(path, "*.cue"))
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "BROKEN") {
				return fmt.Errorf("%s:%d:1: BROKEN marker", name, i+1)
			}
		}
	}
	return nil
}

func (f *fakeReconciler) Reconcile(ctx context.Context, path string, apply bool) (Outcome, error) {
	if f.started != nil {
		select {
		case f.started <- struct{}{}:
		default:
		}
	}
	time.Sleep(f.delay)
	f.mu.Lock()
	f.reconciles = append(f.reconciles, reconcileCall{path: path, apply: apply, done: time.Now(), ctxCancelled: ctx.Err() != nil})
	f.mu.Unlock()
	return Outcome{Result: model.StatusDrift, Actions: 2, Message: "2 to create", NextDue: []string{"docs: daily 02:00"}}, nil
}

func (f *fakeReconciler) Gatherer() prometheus.Gatherer {
	if f.gatherer == nil {
		return nil
	}
	return f.gatherer
}

func (f *fakeReconciler) calls() []reconcileCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]reconcileCall(nil), f.reconciles...)
}

// validations counts Validate calls on paths containing s.
func (f *fakeReconciler) validations(s string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, p := range f.validated {
		if strings.Contains(p, s) {
			n++
		}
	}
	return n
}

// remote is a bare repository with a work clone that pushes to it.
type remote struct {
	t          *testing.T
	bare, work string
}

func newRemote(t *testing.T) *remote {
	t.Helper()
	dir := t.TempDir()
	r := &remote{t: t, bare: filepath.Join(dir, "remote.git"), work: filepath.Join(dir, "work")}
	r.git(dir, "init", "-q", "--bare", "--initial-branch=main", r.bare)
	r.git(dir, "init", "-q", "--initial-branch=main", r.work)
	r.git(r.work, "remote", "add", "origin", r.bare)
	return r
}

func (r *remote) git(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// push commits content as drsync.cue on main and returns the commit.
func (r *remote) push(content string) string {
	r.t.Helper()
	if err := os.WriteFile(filepath.Join(r.work, "drsync.cue"), []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.git(r.work, "add", "drsync.cue")
	r.git(r.work, "commit", "-q", "-m", "desired state")
	r.git(r.work, "push", "-q", "origin", "HEAD:main")
	return r.git(r.work, "rev-parse", "HEAD")
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// start runs a Watcher until the test ends (or stop is called) and fails
// the test if Run errs or outlives its context by more than a few seconds.
func start(t *testing.T, opts Options, r Reconciler) (w *Watcher, stop func()) {
	t.Helper()
	if opts.WorkDir == "" {
		opts.WorkDir = filepath.Join(t.TempDir(), "watch")
	}
	if opts.Listen == "" {
		opts.Listen = promtest.FreeAddr(t)
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	w, err := New(opts, r)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	waitFor(t, 5*time.Second, "HTTP up", func() bool {
		resp, err := client.Get("http://" + opts.Listen + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return w, stop
}

// client keeps no idle connections, so goroutine counts settle.
var client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func applied(w *Watcher, rev string) func() bool {
	return func() bool { return w.Status().LastAppliedRevision == rev }
}

func TestPushIsReconciled(t *testing.T) {
	rem := newRemote(t)
	a := rem.push("package drsync\n// a\n")
	f := &fakeReconciler{}
	w, _ := start(t, Options{Repo: rem.bare, Interval: 200 * time.Millisecond}, f)
	waitFor(t, 10*time.Second, "first commit applied", applied(w, a))

	b := rem.push("package drsync\n// b\n")
	waitFor(t, 10*time.Second, "pushed commit applied", applied(w, b))
	calls := f.calls()
	last := calls[len(calls)-1]
	if want := filepath.Join(b, "drsync.cue"); !strings.HasSuffix(last.path, want) {
		t.Errorf("reconciled %s, want the checkout of %s", last.path, want)
	}
	if last.apply {
		t.Error("reconciled with apply although Apply is off")
	}
	st := w.Status()
	if st.LastAttemptedRevision != b || st.Revision != b || !st.DesiredStateValid || st.LastError != "" || st.LastResult != model.StatusDrift {
		t.Errorf("status %+v", st)
	}
	// The previous checkout is gone once the new one is swapped in.
	entries, _ := os.ReadDir(filepath.Join(w.opts.WorkDir, "checkouts"))
	if len(entries) != 1 || entries[0].Name() != b {
		t.Errorf("checkouts %v, want only %s", entries, b)
	}
	if target, _ := os.Readlink(filepath.Join(w.opts.WorkDir, "current")); target != filepath.Join("checkouts", b) {
		t.Errorf("current -> %s", target)
	}
}

func TestFileURLRemote(t *testing.T) {
	rem := newRemote(t)
	a := rem.push("package drsync\n")
	w, _ := start(t, Options{Repo: "file://" + rem.bare, Interval: 200 * time.Millisecond}, &fakeReconciler{})
	waitFor(t, 10*time.Second, "commit applied over file://", applied(w, a))
}

func TestBrokenCommitIsNotApplied(t *testing.T) {
	rem := newRemote(t)
	good := rem.push("package drsync\n")
	f := &fakeReconciler{}
	w, _ := start(t, Options{Repo: rem.bare, Interval: 200 * time.Millisecond}, f)
	waitFor(t, 10*time.Second, "good commit applied", applied(w, good))

	broken := rem.push("package drsync\nBROKEN\n")
	waitFor(t, 10*time.Second, "broken commit attempted", func() bool { return w.Status().LastAttemptedRevision == broken })
	st := w.Status()
	if st.LastAppliedRevision != good || st.Revision != good || st.DesiredStateValid {
		t.Errorf("after a broken commit: %+v", st)
	}
	if !strings.Contains(st.LastError, broken) || !strings.Contains(st.LastError, "drsync.cue:2:1: BROKEN") {
		t.Errorf("last_error %q does not name the commit and file:line", st.LastError)
	}
	if m := scrape(t, w); !strings.Contains(m, "drsync_watch_desired_state_valid 0") {
		t.Errorf("metrics do not show the invalid state:\n%s", m)
	}

	// Later polls neither retry the broken commit nor use it, and keep
	// reconciling the good one.
	before := len(f.calls())
	time.Sleep(time.Second)
	if n := f.validations(broken); n != 1 {
		t.Errorf("broken commit validated %d times, want once", n)
	}
	calls := f.calls()
	if len(calls) <= before {
		t.Error("no periodic reconcile while the head is broken")
	}
	for _, c := range calls {
		if strings.Contains(c.path, broken) {
			t.Fatalf("reconciled the broken commit: %s", c.path)
		}
	}
	if st := w.Status(); !strings.Contains(st.LastError, broken) {
		t.Errorf("error forgotten before a new commit: %+v", st)
	}

	fixed := rem.push("package drsync\n// fixed\n")
	waitFor(t, 10*time.Second, "fixed commit applied", applied(w, fixed))
	if st := w.Status(); st.LastError != "" || !st.DesiredStateValid {
		t.Errorf("after the fix: %+v", st)
	}
}

func TestRestartKeepsLastGoodRevision(t *testing.T) {
	rem := newRemote(t)
	good := rem.push("package drsync\n")
	workDir := filepath.Join(t.TempDir(), "watch")
	opts := Options{Repo: rem.bare, WorkDir: workDir, Interval: time.Hour}
	w, stop := start(t, opts, &fakeReconciler{})
	waitFor(t, 10*time.Second, "good commit applied", applied(w, good))
	stop()

	broken := rem.push("BROKEN\n")
	f := &fakeReconciler{}
	w, _ = start(t, opts, f)
	waitFor(t, 10*time.Second, "restart reconciles the last good commit", applied(w, good))
	if st := w.Status(); st.LastAttemptedRevision != broken || st.DesiredStateValid {
		t.Errorf("status %+v", st)
	}
}

func sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func postHook(t *testing.T, w *Watcher, body []byte, signature string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+w.opts.Listen+"/hook", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestWebhook(t *testing.T) {
	rem := newRemote(t)
	a := rem.push("package drsync\n")
	secret := []byte("s3cret")
	f := &fakeReconciler{}
	w, _ := start(t, Options{Repo: rem.bare, Interval: time.Hour, WebhookSecret: secret}, f)
	waitFor(t, 10*time.Second, "first commit applied", applied(w, a))

	b := rem.push("package drsync\n// b\n")
	body := []byte(`{"ref":"refs/heads/main"}`)
	for name, sig := range map[string]string{
		"missing":    "",
		"wrong key":  sign([]byte("other"), body),
		"other body": sign(secret, []byte("{}")),
		"not hex":    "sha256=zz",
		"sha1":       "sha1=" + strings.TrimPrefix(sign(secret, body), "sha256="),
	} {
		if code := postHook(t, w, body, sig); code != http.StatusUnauthorized {
			t.Errorf("%s signature: status %d, want 401", name, code)
		}
	}
	time.Sleep(500 * time.Millisecond)
	if st := w.Status(); st.LastAttemptedRevision != a || f.validations(b) != 0 {
		t.Fatalf("a rejected hook fetched: %+v", st)
	}

	if code := postHook(t, w, body, sign(secret, body)); code != http.StatusAccepted {
		t.Fatalf("signed hook: status %d, want 202", code)
	}
	waitFor(t, 10*time.Second, "hook-triggered reconcile", applied(w, b))
}

func TestWebhookDisabledWithoutSecret(t *testing.T) {
	rem := newRemote(t)
	rem.push("package drsync\n")
	w, _ := start(t, Options{Repo: rem.bare, Interval: time.Hour}, &fakeReconciler{})
	if code := postHook(t, w, []byte("{}"), sign(nil, []byte("{}"))); code != http.StatusNotFound {
		t.Errorf("hook without a secret: status %d, want 404", code)
	}
}

func TestCheckSignature(t *testing.T) {
	secret, body := []byte("k"), []byte("payload")
	good := sign(secret, body)
	for _, c := range []struct {
		header string
		want   bool
	}{
		{good, true},
		{strings.ToUpper(good[:7]) + good[7:], false},
		{"", false},
		{"sha256=", false},
		{good[:len(good)-2], false},
		{strings.TrimPrefix(good, "sha256="), false},
	} {
		if got, err := checkSignature(secret, c.header, bytes.NewReader(body)); got != c.want || err != nil {
			t.Errorf("checkSignature(%q) = %v, %v; want %v", c.header, got, err, c.want)
		}
	}
}

// writeByRename saves as editors do: a new file renamed over the old.
func writeByRename(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".drsync.cue.swp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func callsAre(f *fakeReconciler, n int) func() bool {
	return func() bool { return len(f.calls()) == n }
}

func TestFileRenameIsOneReconcile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "drsync.cue")
	if err := os.WriteFile(path, []byte("package drsync\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &fakeReconciler{}
	w, _ := start(t, Options{File: path, Interval: time.Hour, Debounce: 100 * time.Millisecond}, f)
	waitFor(t, 5*time.Second, "initial reconcile", callsAre(f, 1))
	first := w.Status().LastAppliedRevision

	writeByRename(t, path, "package drsync\n// edited\n")
	waitFor(t, 5*time.Second, "reconcile after the save", callsAre(f, 2))
	time.Sleep(500 * time.Millisecond)
	if n := len(f.calls()); n != 2 {
		t.Fatalf("%d reconciles after one save, want 2 in all", n)
	}
	edited := w.Status().LastAppliedRevision
	if edited == first || !strings.HasPrefix(edited, "sha256-") {
		t.Errorf("revision %q after the edit, %q before", edited, first)
	}
	// Unrelated files in the directory are ignored.
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)

	writeByRename(t, path, "package drsync\nBROKEN\n")
	waitFor(t, 5*time.Second, "broken save rejected", func() bool { return !w.Status().DesiredStateValid })
	time.Sleep(300 * time.Millisecond)
	st := w.Status()
	if n := len(f.calls()); n != 2 || st.LastAppliedRevision != edited || !strings.Contains(st.LastError, "drsync.cue:2:1: BROKEN") {
		t.Fatalf("broken save: %d reconciles, status %+v", n, st)
	}

	writeByRename(t, path, "package drsync\n// fixed\n")
	waitFor(t, 5*time.Second, "fixed save reconciled", callsAre(f, 3))
	if st := w.Status(); st.LastError != "" || st.LastAppliedRevision == edited {
		t.Errorf("after the fix: %+v", st)
	}
}

func TestDirectoryOfCUEFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "desired")
	os.Mkdir(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "a.cue"), []byte("package drsync\n"), 0o644)
	f := &fakeReconciler{}
	start(t, Options{File: dir, Interval: time.Hour, Debounce: 50 * time.Millisecond}, f)
	waitFor(t, 5*time.Second, "initial reconcile", callsAre(f, 1))
	os.WriteFile(filepath.Join(dir, "b.cue"), []byte("package drsync\n"), 0o644)
	waitFor(t, 5*time.Second, "reconcile after a new file", callsAre(f, 2))
	staged := f.calls()[1].path
	if filepath.Base(staged) != "desired" {
		t.Errorf("reconciled %s, want a staged copy of the directory", staged)
	}
	if _, err := os.Stat(filepath.Join(staged, "b.cue")); err != nil {
		t.Error(err)
	}
}

func TestEventsDuringReconcileCoalesce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "drsync.cue")
	os.WriteFile(path, []byte("package drsync\n"), 0o644)
	f := &fakeReconciler{delay: 1500 * time.Millisecond, started: make(chan struct{}, 1)}
	w, _ := start(t, Options{File: path, Interval: time.Hour, Debounce: 50 * time.Millisecond}, f)
	<-f.started
	// Three saves, each its own debounced event, and a hook-like request,
	// all while the first reconcile runs.
	for i := range 3 {
		writeByRename(t, path, fmt.Sprintf("package drsync\n// %d\n", i))
		time.Sleep(150 * time.Millisecond)
	}
	w.request(checkSource)
	if n := len(f.calls()); n != 0 {
		t.Fatalf("first reconcile finished too early (%d)", n)
	}
	waitFor(t, 10*time.Second, "one more reconcile", callsAre(f, 2))
	time.Sleep(2 * time.Second)
	if n := len(f.calls()); n != 2 {
		t.Fatalf("%d reconciles, want 2: events during one must coalesce into exactly one more", n)
	}
	b, _ := os.ReadFile(f.calls()[1].path)
	if !strings.Contains(string(b), "// 2") {
		t.Errorf("second reconcile saw %q, want the last save", b)
	}
}

func TestCancelWaitsForReconcile(t *testing.T) {
	before := runtime.NumGoroutine()
	rem := newRemote(t)
	rem.push("package drsync\n")
	f := &fakeReconciler{delay: 1500 * time.Millisecond, started: make(chan struct{}, 1)}
	_, stop := start(t, Options{Repo: rem.bare, Interval: time.Hour, Debounce: 50 * time.Millisecond}, f)
	<-f.started
	stop()
	returned := time.Now()
	calls := f.calls()
	if len(calls) != 1 {
		t.Fatalf("Run returned with %d reconciles finished, want the running one (1)", len(calls))
	}
	if calls[0].done.After(returned) {
		t.Error("Run returned before the reconcile")
	}
	if calls[0].ctxCancelled {
		t.Error("the reconcile's context was cancelled with Run's")
	}
	waitFor(t, 5*time.Second, "goroutines to settle", func() bool { return runtime.NumGoroutine() <= before })
}

func scrape(t *testing.T, w *Watcher) string {
	t.Helper()
	resp, err := client.Get("http://" + w.opts.Listen + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMetricsAndStatus(t *testing.T) {
	rem := newRemote(t)
	a := rem.push("package drsync\n")
	reg := prometheus.NewRegistry()
	backups := prometheus.NewGauge(prometheus.GaugeOpts{Name: "drsync_snapshots", Help: "test"})
	backups.Set(3)
	reg.MustRegister(backups)
	w, _ := start(t, Options{Repo: rem.bare, Interval: time.Hour}, &fakeReconciler{gatherer: reg})
	waitFor(t, 10*time.Second, "commit applied", applied(w, a))

	m := scrape(t, w)
	for _, want := range []string{
		`drsync_watch_reconciles_total{result="drift"} 1`,
		"drsync_watch_reconcile_duration_seconds_bucket",
		"drsync_watch_reconcile_duration_seconds_count 1",
		fmt.Sprintf(`drsync_watch_last_applied_revision_info{revision="%s"} 1`, a),
		"drsync_watch_fetch_errors_total 0",
		"drsync_watch_last_reconcile_timestamp_seconds 1",
		"drsync_watch_desired_state_valid 1",
		"drsync_snapshots 3",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	resp, err := client.Get("http://" + w.opts.Listen + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"last_applied_revision", "last_attempted_revision", "last_error", "last_result", "last_reconcile", "next_due", "desired_state_valid", "revision", "source"} {
		if _, ok := st[key]; !ok {
			t.Errorf("/status lacks %q: %v", key, st)
		}
	}
	if st["last_applied_revision"] != a || st["last_result"] != string(model.StatusDrift) {
		t.Errorf("/status %v", st)
	}
	if due, _ := st["next_due"].([]any); len(due) != 1 {
		t.Errorf("next_due %v", st["next_due"])
	}
}

func TestFetchErrorsAreCounted(t *testing.T) {
	rem := newRemote(t)
	rem.push("package drsync\n")
	w, _ := start(t, Options{Repo: rem.bare, Branch: "nope", Interval: 100 * time.Millisecond}, &fakeReconciler{})
	waitFor(t, 5*time.Second, "fetch error", func() bool { return strings.Contains(w.Status().LastError, "no branch nope") })
	if m := scrape(t, w); strings.Contains(m, "drsync_watch_fetch_errors_total 0") {
		t.Error("fetch errors not counted")
	}
}

func TestNewChecksOptions(t *testing.T) {
	r := &fakeReconciler{}
	for name, opts := range map[string]Options{
		"no source":     {WorkDir: "w"},
		"two sources":   {Repo: "r", File: "f", WorkDir: "w"},
		"no workdir":    {Repo: "r"},
		"escaping path": {Repo: "r", Path: "../x.cue", WorkDir: "w"},
		"missing file":  {File: filepath.Join(t.TempDir(), "absent.cue"), WorkDir: "w"},
	} {
		if _, err := New(opts, r); err == nil {
			t.Errorf("%s: New accepted %+v", name, opts)
		}
	}
	w, err := New(Options{Repo: "r", WorkDir: "w"}, r)
	if err != nil {
		t.Fatal(err)
	}
	if w.opts.Branch != "main" || w.opts.Path != "drsync.cue" || w.opts.Listen != "127.0.0.1:9813" || w.opts.Debounce != 500*time.Millisecond {
		t.Errorf("defaults: %+v", w.opts)
	}
	if _, err := New(Options{Repo: "r", WorkDir: "w"}, nil); err == nil {
		t.Error("New accepted a nil reconciler")
	}
}
