package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/drsync/drsync/notify"
)

// pingDesired is a plain-directory machine with a files service and pings
// of every kind; %s are the receivers' URL files.
const pingDesired = `package drsync

root: *"" | string @tag(root)

host:     "pinged"
stateDir: "\(root)/state"
restore: scratch: "\(root)/scratch"
generate: enabled: {metrics: false, alertRules: false, scrapeConfig: false, dashboard: false, systemd: false, runbooks: false}
locations: pool: path: "\(root)/pool/.snapshots"
tiers: "1": {rpo: "7d", rto: "1h", restoreTest: every: "1000d"}
subvolumes: docs: {tier: "1", source: "\(root)/pool/docs", snapshots: {location: "pool", schedule: "daily 02:00", retention: daily: 7}}
services: conf: {tier: "1", kind: "files", paths: ["\(root)/etc/app"], location: "pool", schedule: "daily 01:00", retention: daily: 7}
pings: {
	hc:     {kind: "healthchecks", urlFile: %q}
	hook:   {kind: "webhook", urlFile: %q, commands: ["test"]}
	broken: {kind: "ntfy", urlFile: %q, timeout: "1s"}
	hung:   {kind: "webhook", urlFile: %q, timeout: "1s"}
}
`

// recorder is a receiver that records each request's path and body.
type recorder struct {
	mu  sync.Mutex
	got []string // "PATH BODY"
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, r.URL.Path+" "+string(b))
	rc.mu.Unlock()
}

func (rc *recorder) take() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	got := rc.got
	rc.got = nil
	return got
}

// TestPingsFromApplyAndTest: apply and test ping a healthchecks check at
// start and end, a failing test pings /fail with the failing file and
// check in the body, the webhook hears only tests; a receiver answering
// 500 and one that never answers change nothing about the runs' results,
// and no URL (each holds a secret) reaches the output or the log.
func TestPingsFromApplyAndTest(t *testing.T) {
	const secret = "hc-uuid-5d1e"
	hc := &recorder{}
	good := httptest.NewServer(hc)
	t.Cleanup(good.Close)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	t.Cleanup(broken.Close)
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(release) })

	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	urlFile := func(name, url string) string {
		p := filepath.Join(dir, "secrets", name)
		writeTestFile(t, p, []byte(url+"\n"))
		return p
	}
	desired := filepath.Join(dir, "desired.cue")
	writeTestFile(t, desired, fmt.Appendf(nil, pingDesired,
		urlFile("hc", good.URL+"/hc/"+secret), urlFile("hook", good.URL+"/hook/"+secret),
		urlFile("broken", broken.URL+"/topic-"+secret), urlFile("hung", hung.URL+"/hook/"+secret)))
	writeTestFile(t, filepath.Join(root, "pool/docs/a.txt"), []byte("a\n"))
	writeTestFile(t, filepath.Join(root, "etc/app/config.yaml"), []byte("listen: 127.0.0.1:8080\n"))
	if err := os.MkdirAll(filepath.Join(root, "pool/.snapshots"), 0o755); err != nil {
		t.Fatal(err)
	}
	drsync := func(args ...string) (int, string) {
		var out bytes.Buffer
		args = append(args, "-f", desired, "-t", "root="+root, "--storage", "dir", "--log-level", "debug")
		code := run(args, strings.NewReader(""), &out, &out)
		if strings.Contains(out.String(), secret) {
			t.Errorf("drsync %v: a ping URL reached the output:\n%s", args, out.String())
		}
		return code, out.String()
	}

	if code, out := drsync("apply", "--auto-approve", "--now", "2026-11-22T03:30"); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, out)
	} else if !strings.Contains(out, "ping not delivered within its budget") || !strings.Contains(out, "ping=hung") || !strings.Contains(out, "ping=broken") {
		t.Errorf("apply's log does not say which pings failed:\n%s", out)
	}
	got := hc.take()
	if len(got) != 2 || got[0] != "/hc/"+secret+"/start drsync apply started on pinged" ||
		!strings.HasPrefix(got[1], "/hc/"+secret+" drsync apply succeeded on pinged") || !strings.Contains(got[1], "actions: ") {
		t.Errorf("healthchecks after apply got %q; want /start, then success with the run's log", got)
	}

	// Damage the archive: the test fails, and says so to the check and the webhook.
	archives, _ := filepath.Glob(filepath.Join(root, "pool/.snapshots/conf/conf.*.tar.gz"))
	if len(archives) != 1 {
		t.Fatalf("archives: %v", archives)
	}
	f, err := os.OpenFile(archives[0], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("x"), 20)
	f.Close()
	if code, out := drsync("test", "--subvolume", "conf"); code != 1 {
		t.Fatalf("test of a damaged archive: exit %d\n%s", code, out)
	}
	got = hc.take()
	var fail, hookFail string
	for _, g := range got {
		switch {
		case strings.HasPrefix(g, "/hc/"+secret+"/fail "):
			fail = g
		case strings.HasPrefix(g, "/hook/"+secret+" ") && strings.Contains(g, `"event":"fail"`):
			hookFail = strings.TrimPrefix(g, "/hook/"+secret+" ")
		}
	}
	if !strings.Contains(fail, "drsync test FAILED on pinged") || !strings.Contains(fail, "conf") ||
		!strings.Contains(fail, filepath.Base(archives[0])+": checksum") {
		t.Errorf("healthchecks /fail after a failed test: %q (all: %q)", fail, got)
	}
	var body notify.WebhookBody
	if err := json.Unmarshal([]byte(hookFail), &body); err != nil || body.Command != "test" || body.OK || body.Host != "pinged" || !strings.Contains(body.Log, "checksum") {
		t.Errorf("webhook after a failed test: %q (%v)", hookFail, err)
	}
}
