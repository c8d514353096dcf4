package watch

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drsync/drsync/providers/dirfs"
	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/session"
	"github.com/drsync/drsync/snapname"
)

const unattendedDesired = `package drsync

root: *"" | string @tag(root)

stateDir: "\(root)/state"
restore: scratch: "\(root)/scratch"
locations: {
	pool: path: "\(root)/pool/.snapshots"
	usb: {external: true, path: "\(root)/usb/.snapshots", mount: "\(root)/usb", uuid: "0d2c7a3e-1b4f-4e6a-9c8d-7f6e5d4c3b2a"}
}
tiers: "1": {rpo: "7d", rto: "1h"}
subvolumes: docs: {
	tier:   "1"
	source: "\(root)/pool/docs"
	snapshots: {location: "pool", schedule: "every 1m", retention: {min: "latest", hourly: 1}}
	external: {location: "usb", schedule: "daily 03:00", retention: daily: 3}
}
`

// newUnattendedRig is watch's reconciler over a plain-directory sandbox, as
// `drsync watch --storage dir -t root=DIR` runs it, in process.
func newUnattendedRig(t *testing.T) (*Pipeline, string, string) {
	t.Helper()
	root := t.TempDir()
	for path, content := range map[string]string{
		"desired.cue":          unattendedDesired,
		"pool/docs/a/file.txt": "hello\n",
		"usb/.drsync-drive":    "0d2c7a3e-1b4f-4e6a-9c8d-7f6e5d4c3b2a\n",
	} {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := session.Options{Tags: []string{"root=" + root}, Storage: "dir"}
	return &Pipeline{session: s, stop: t.Context()}, root, filepath.Join(root, "desired.cue")
}

func countDirs(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() {
			n++
		}
	}
	return n
}

// watch's unattended reconcile, in process: it applies, it reports drift
// without applying when told not to, and a plan that would prune most
// snapshots is refused and changes nothing.
func TestWatchReconcileUnattended(t *testing.T) {
	r, root, desired := newUnattendedRig(t)
	snaps := filepath.Join(root, "pool/.snapshots/docs")

	out, err := r.Reconcile(t.Context(), desired, false)
	if err != nil || out.Result != model.StatusDrift || out.Actions == 0 {
		t.Fatalf("--apply=false: %+v %v", out, err)
	}
	if countDirs(t, snaps) != 0 {
		t.Fatal("--apply=false took a snapshot")
	}

	out, err = r.Reconcile(t.Context(), desired, true)
	if err != nil || out.Result != model.StatusApplied || !strings.Contains(out.Message, "applied") {
		t.Fatalf("apply: %+v %v", out, err)
	}
	if countDirs(t, snaps) != 1 || countDirs(t, filepath.Join(root, "usb/.snapshots/docs")) != 1 {
		t.Fatal("the unattended apply did not snapshot and send")
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/node_exporter/textfile_collector/drsync.prom")); err != nil {
		t.Errorf("metrics not refreshed after the apply: %v", err)
	}

	// Another holder of the lock: the reconcile fails and says who.
	d, err := schema.Load(desired, r.session.Tags)
	if err != nil {
		t.Fatal(err)
	}
	l, err := reconcile.AcquireLock(d.StateDir, "drsync apply by hand")
	if err != nil {
		t.Fatal(err)
	}
	out, err = r.Reconcile(t.Context(), desired, true)
	l.Release()
	if err == nil || out.Result != model.StatusFailed || !strings.Contains(out.Message, "drsync apply by hand") {
		t.Fatalf("with the lock held: %+v %v", out, err)
	}
}

// A commit that would prune most of a subvolume's snapshots is refused by
// the guard; nothing is pruned and the status says why.
func TestWatchReconcileGuardsMassPrune(t *testing.T) {
	r, root, desired := newUnattendedRig(t)
	snaps := filepath.Join(root, "pool/.snapshots/docs")
	// Six snapshots taken hours apart: "hourly: 1" keeps one of them.
	for h := 6; h >= 1; h-- {
		name := snapname.FormatSeq("docs", time.Now().Add(-time.Duration(h)*time.Hour), 0)
		if err := (dirfs.Storage{}).Snapshot(t.Context(), filepath.Join(root, "pool/docs"), filepath.Join(snaps, name)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := r.Reconcile(t.Context(), desired, true)
	if err != nil || out.Result != model.StatusGuarded || !strings.Contains(out.Message, "unattended apply refused") {
		t.Fatalf("guard: %+v %v", out, err)
	}
	if n := countDirs(t, snaps); n != 6 {
		t.Errorf("a guarded reconcile changed the snapshots: %d, want 6", n)
	}
}

// A broken revision's error stays typed, positioned in the user's file
// rather than in watch's staged copy of it.
func TestWatchValidateKeepsErrorsTyped(t *testing.T) {
	r, root, _ := newUnattendedRig(t)
	staged := filepath.Join(root, "staged")
	if err := os.MkdirAll(staged, 0o755); err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(unattendedDesired, `tier:   "1"`, `tier:   "9"`, 1)
	if err := os.WriteFile(filepath.Join(staged, "desired.cue"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	r.shownAs = "ops/"
	err := r.Validate(t.Context(), filepath.Join(staged, "desired.cue"))
	var se *schema.Error
	if !errors.As(err, &se) || len(se.Problems) == 0 {
		t.Fatalf("not a schema error: %T %v", err, err)
	}
	if p := se.Problems[0]; !strings.HasPrefix(p.Pos, "ops/desired.cue:") || strings.Contains(err.Error(), staged) {
		t.Errorf("positioned in the staged copy: %+v", se.Problems)
	}
}

// pingRecorder records the pings it receives, as "PATH BODY".
type pingRecorder struct {
	mu  sync.Mutex
	got []string
}

func (rc *pingRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, r.URL.Path+" "+string(b))
	rc.mu.Unlock()
}

func (rc *pingRecorder) take() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	got := rc.got
	rc.got = nil
	return got
}

// TestWatchReconcilePings: each reconcile of `drsync watch` that applies
// pings at start and end; a reconcile that only reports drift does not.
func TestWatchReconcilePings(t *testing.T) {
	hc := &pingRecorder{}
	srv := httptest.NewServer(hc)
	t.Cleanup(srv.Close)
	r, root, desired := newUnattendedRig(t)
	urlFile := filepath.Join(root, "hc-url")
	if err := os.WriteFile(urlFile, []byte(srv.URL+"/hc/check-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(desired, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "host: \"watched\"\npings: hc: {kind: \"healthchecks\", urlFile: %q}\n", urlFile)
	f.Close()

	if _, err := r.Reconcile(t.Context(), desired, false); err != nil {
		t.Fatal(err)
	}
	if got := hc.take(); len(got) != 0 {
		t.Errorf("a drift-only reconcile pinged: %q", got)
	}
	if _, err := r.Reconcile(t.Context(), desired, true); err != nil {
		t.Fatal(err)
	}
	got := hc.take()
	if len(got) != 2 || got[0] != "/hc/check-1/start drsync watch started on watched" || !strings.HasPrefix(got[1], "/hc/check-1 drsync watch succeeded on watched") {
		t.Errorf("an applying reconcile pinged %q; want /start and success", got)
	}
}

// Errors name the followed file's directory, a followed directory itself,
// and for a repository the path inside it.
func TestNewPipelineShownAs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "desired.cue")
	if err := os.WriteFile(file, []byte(unattendedDesired), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ followed, want string }{
		{file, dir + "/"},
		{dir, dir + "/"},
		{dir + "/", dir + "/"},
		{"", ""},
	} {
		if got := NewPipeline(t.Context(), session.Options{}, c.followed).shownAs; got != c.want {
			t.Errorf("following %q: errors name %q, want %q", c.followed, got, c.want)
		}
	}
}
