package watch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drsync/drsync/internal/promtest"
)

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRepoCredentialsNeverShown follows a repository URL carrying a token
// that cannot be fetched, and looks for the token in /status, Status and
// every log line.
func TestRepoCredentialsNeverShown(t *testing.T) {
	const token = "ghp_S3cr3tT0k3n"
	var logs lockedBuffer
	repo := "http://x-access-token:" + token + "@" + promtest.FreeAddr(t) + "/desired.git"
	w, _ := start(t, Options{Repo: repo, Interval: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, &fakeReconciler{})
	waitFor(t, 10*time.Second, "a failed fetch", func() bool { return w.Status().LastError != "" })

	resp, err := client.Get("http://" + w.opts.Listen + "/status")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	st := w.Status()
	for what, text := range map[string]string{"/status": string(page), "status source": st.Source, "last error": st.LastError, "log": logs.String()} {
		if strings.Contains(text, token) {
			t.Errorf("%s shows the token:\n%s", what, text)
		}
	}
	if !strings.Contains(st.Source, "http://***@") {
		t.Errorf("status source %q does not show where the credentials were", st.Source)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pass@host/x.git":                      "https://***@host/x.git",
		"https://TOKEN@host/x.git and ssh://git@h:22/r.git": "https://***@host/x.git and ssh://***@h:22/r.git",
		"https://host/x.git":                                "https://host/x.git",
		"git@host:r.git":                                    "git@host:r.git",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// rssBytes is the resident memory of this process.
func rssBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// TestHookUnderAttack holds 200 slow connections open and sends 10,000
// badly signed hooks, then a body announced as too large, and expects
// memory to stay bounded, the log to stay short and a signed hook to be
// served at once.
func TestHookUnderAttack(t *testing.T) {
	secret := []byte("hook-secret")
	rem := newRemote(t)
	rem.push("package drsync\n")
	var logs lockedBuffer
	w, _ := start(t, Options{Repo: rem.bare, Interval: time.Hour, WebhookSecret: secret,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, &fakeReconciler{})
	idle := rssBytes(t)

	// Slow clients announce a large (allowed) body and send it a byte at a time.
	var slow []net.Conn
	defer func() {
		for _, c := range slow {
			c.Close()
		}
	}()
	for range 200 {
		c, err := net.Dial("tcp", w.opts.Listen)
		if err != nil {
			t.Fatal(err)
		}
		slow = append(slow, c)
		fmt.Fprintf(c, "POST /hook HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: %s\r\nContent-Length: %d\r\n\r\n{", sign(secret, []byte("{}")), maxHookBody)
	}
	ctx, stopDribble := context.WithCancel(t.Context())
	defer stopDribble()
	go func() {
		for ctx.Err() == nil {
			for _, c := range slow {
				c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
				c.Write([]byte(" "))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()

	// 10,000 bad signatures from 8 keep-alive clients.
	keepAlive := &http.Client{Timeout: 5 * time.Second}
	var sent, rejected atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sent.Add(1) <= 10_000 {
				req, _ := http.NewRequest(http.MethodPost, "http://"+w.opts.Listen+"/hook", strings.NewReader(`{"ref":"refs/heads/main"}`))
				req.Header.Set("X-Hub-Signature-256", sign([]byte("wrong"), []byte("{}")))
				resp, err := keepAlive.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusUnauthorized {
					rejected.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if rejected.Load() != 10_000 {
		t.Errorf("%d of 10000 bad signatures were rejected with 401", rejected.Load())
	}

	// A body announced as too large is refused before a byte of it is read.
	c, err := net.Dial("tcp", w.opts.Listen)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 1<<30)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, _ := io.ReadAll(io.LimitReader(c, 12))
	c.Close()
	if !strings.Contains(string(status), "413") {
		t.Errorf("a 1 GiB body: response %q, want 413 before the body is sent", status)
	}

	start := time.Now()
	if code := postHook(t, w, []byte("{}"), sign(secret, []byte("{}"))); code != http.StatusAccepted {
		t.Errorf("signed hook under load: status %d, want 202", code)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("signed hook under load took %v, want within 2s", took)
	}
	if grown := rssBytes(t) - idle; grown > 64<<20 {
		t.Errorf("RSS grew by %d MiB under attack, want within 64 MiB", grown>>20)
	}
	if n := strings.Count(logs.String(), "bad or missing signature"); n > 2 {
		t.Errorf("%d log lines for 10000 bad signatures, want at most 2:\n%.2000s", n, logs.String())
	}
}

// TestSymlinkOutOfRepositoryRefused commits drsync.cue as a relative
// symlink to a file outside the checkout: the revision is rejected before
// anything reads through it, and the good one stays in force.
func TestSymlinkOutOfRepositoryRefused(t *testing.T) {
	rem := newRemote(t)
	good := rem.push("package drsync\n")
	f := &fakeReconciler{}
	w, _ := start(t, Options{Repo: rem.bare, Interval: 200 * time.Millisecond}, f)
	waitFor(t, 10*time.Second, "good commit applied", applied(w, good))

	// The staged checkout is WorkDir/checkouts/<rev>/; enough ../ reach /.
	secret := filepath.Join(t.TempDir(), "secret.cue")
	if err := os.WriteFile(secret, []byte("package drsync\n// TOPSECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(rem.work, "drsync.cue")
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(strings.Repeat("../", 20)+strings.TrimPrefix(secret, "/"), link); err != nil {
		t.Fatal(err)
	}
	rem.git(rem.work, "add", "drsync.cue")
	rem.git(rem.work, "commit", "-q", "-m", "symlink out")
	rem.git(rem.work, "push", "-q", "origin", "HEAD:main")
	bad := rem.git(rem.work, "rev-parse", "HEAD")

	waitFor(t, 10*time.Second, "symlinked commit attempted", func() bool { return w.Status().LastAttemptedRevision == bad })
	st := w.Status()
	if st.DesiredStateValid || st.Revision != good || !strings.Contains(st.LastError, "outside the repository") {
		t.Errorf("after a commit with a symlink out of the repository: %+v", st)
	}
	if n := f.validations(bad); n != 0 {
		t.Errorf("the symlinked revision was validated (read) %d times, want never", n)
	}
}
