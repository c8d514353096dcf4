package notify

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drsync/drsync/schema"
)

// receiver is a local HTTP server recording what it is sent; answer
// decides the reply to each request.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []request
	answer func(w http.ResponseWriter, r *http.Request)
}

type request struct {
	Path   string
	Header http.Header
	Body   string
}

func newReceiver(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, request{r.URL.Path, r.Header.Clone(), string(b)})
		rc.mu.Unlock()
		if rc.answer != nil {
			rc.answer(w, r)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.got...)
}

// The token part of every URL here stands for a secret.
const secret = "0f9e8d7c-secret-uuid"

func secretFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func desired(pings map[string]schema.Ping) *schema.Desired {
	for name, p := range pings {
		if p.Commands == nil {
			p.Commands = []string{"apply", "test", "drill", "watch"}
		}
		if p.Events == nil {
			p.Events = []string{"start", "success", "fail"}
		}
		pings[name] = p
	}
	return &schema.Desired{Pings: pings}
}

func sender(t *testing.T, d *schema.Desired, budget time.Duration) (*Sender, *bytes.Buffer) {
	t.Helper()
	targets, problems := Targets(d)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	var logs bytes.Buffer
	return &Sender{Targets: targets, Budget: budget, Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, &logs
}

// TestEveryKindAgainstALocalReceiver sends an apply's start, success and
// failure to a healthchecks check, an ntfy topic and a webhook on one
// local server, and reads what arrived.
func TestEveryKindAgainstALocalReceiver(t *testing.T) {
	rc := newReceiver(t, nil)
	d := desired(map[string]schema.Ping{
		"hc":    {Kind: "healthchecks", URLFile: secretFile(t, rc.URL+"/ping/"+secret)},
		"phone": {Kind: "ntfy", URLFile: secretFile(t, rc.URL+"/drsync-"+secret), TokenFile: secretFile(t, "tk_"+secret), Events: []string{"fail"}},
		"hook":  {Kind: "webhook", URLFile: secretFile(t, rc.URL+"/hook/"+secret), Commands: []string{"test"}},
	})
	s, logs := sender(t, d, 5*time.Second)
	for _, e := range []Event{Start, Success, Fail} {
		s.Send(Ping{Command: "apply", Event: e, Host: "htpc", Log: "send docs.20261122T0200 → usb: exit status 1"})
		s.Wait() // in order, so the paths below are in order too
	}
	s.Send(Ping{Command: "test", Event: Fail, Host: "htpc", Log: "docs: report.pdf: sha256 differs"})
	s.Wait()

	var hc, ntfy, hook []request
	for _, r := range rc.requests() {
		switch {
		case strings.HasPrefix(r.Path, "/ping/"):
			hc = append(hc, r)
		case strings.HasPrefix(r.Path, "/drsync-"):
			ntfy = append(ntfy, r)
		case strings.HasPrefix(r.Path, "/hook/"):
			hook = append(hook, r)
		}
	}
	wantPaths := []string{"/ping/" + secret + "/start", "/ping/" + secret, "/ping/" + secret + "/fail", "/ping/" + secret + "/fail"}
	if len(hc) != len(wantPaths) {
		t.Fatalf("healthchecks got %d pings, want %d: %+v", len(hc), len(wantPaths), hc)
	}
	for i, r := range hc {
		if r.Path != wantPaths[i] {
			t.Errorf("healthchecks ping %d went to %s, want %s", i, r.Path, wantPaths[i])
		}
	}
	if !strings.Contains(hc[2].Body, "drsync apply FAILED on htpc") || !strings.Contains(hc[2].Body, "exit status 1") {
		t.Errorf("healthchecks /fail body lacks the title and the log:\n%s", hc[2].Body)
	}

	// ntfy only wants failures: the apply's and the test's.
	if len(ntfy) != 2 {
		t.Fatalf("ntfy got %d messages, want the 2 failures: %+v", len(ntfy), ntfy)
	}
	n := ntfy[0]
	if n.Header.Get("Title") != "drsync apply FAILED on htpc" || n.Header.Get("Priority") != "high" ||
		n.Header.Get("Authorization") != "Bearer tk_"+secret || !strings.Contains(n.Body, "exit status 1") {
		t.Errorf("ntfy message: headers %v body %q", n.Header, n.Body)
	}

	// The webhook only wants test runs.
	if len(hook) != 1 {
		t.Fatalf("webhook got %d posts, want the test's failure: %+v", len(hook), hook)
	}
	var body WebhookBody
	if err := json.Unmarshal([]byte(hook[0].Body), &body); err != nil {
		t.Fatalf("webhook body is not JSON: %v\n%s", err, hook[0].Body)
	}
	if body.Command != "test" || body.Event != Fail || body.OK || body.Host != "htpc" || !strings.Contains(body.Log, "sha256 differs") {
		t.Errorf("webhook body: %+v", body)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("a secret reached the log:\n%s", logs)
	}
}

// TestReceiverAnswering500 is retried with backoff until the budget is
// spent, then given up with a warning that names the ping but not its URL.
func TestReceiverAnswering500(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusInternalServerError) })
	d := desired(map[string]schema.Ping{"hc": {Kind: "healthchecks", URLFile: secretFile(t, rc.URL+"/ping/"+secret)}})
	s, logs := sender(t, d, 2*time.Second)
	s.Send(Ping{Command: "apply", Event: Fail})
	s.Wait()
	if n := len(rc.requests()); n < 2 {
		t.Errorf("a 500 was tried %d times, want retries", n)
	}
	if !strings.Contains(logs.String(), "ping not delivered within its budget") || !strings.Contains(logs.String(), "answered 500") ||
		!strings.Contains(logs.String(), "ping=hc") {
		t.Errorf("log does not say which ping failed and why:\n%s", logs)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("a secret reached the log:\n%s", logs)
	}
}

// TestReceiverAnswering404 is not retried: another attempt cannot help.
func TestReceiverAnswering404(t *testing.T) {
	rc := newReceiver(t, http.NotFound)
	d := desired(map[string]schema.Ping{"hook": {Kind: "webhook", URLFile: secretFile(t, rc.URL+"/hook/"+secret)}})
	s, logs := sender(t, d, 5*time.Second)
	s.Send(Ping{Command: "apply", Event: Success})
	s.Wait()
	if n := len(rc.requests()); n != 1 {
		t.Errorf("a 404 was tried %d times, want once", n)
	}
	if !strings.Contains(logs.String(), "not retrying") || !strings.Contains(logs.String(), "answered 404") {
		t.Errorf("log:\n%s", logs)
	}
}

// TestHangingReceiverDoesNotBlock: Send returns while the receiver holds
// the request, and Wait returns when the budget runs out, while the
// receiver still holds it; nothing secret is logged.
func TestHangingReceiverDoesNotBlock(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 16)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // before rc.Close, which waits for handlers
	d := desired(map[string]schema.Ping{"phone": {Kind: "ntfy", URLFile: secretFile(t, rc.URL+"/drsync-"+secret)}})
	s, logs := sender(t, d, 500*time.Millisecond)
	s.Send(Ping{Command: "watch", Event: Start})
	<-entered // the request is held by the receiver, and Send has returned
	s.Wait()
	select {
	case <-release:
		t.Fatal("released early")
	default: // the receiver never answered, yet Wait returned
	}
	if !strings.Contains(logs.String(), "ping not delivered within its budget") || !strings.Contains(logs.String(), "context deadline exceeded") {
		t.Errorf("log does not say the ping timed out:\n%s", logs)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("a secret reached the log:\n%s", logs)
	}
}

// TestUnreachableReceiverRedacted: net/http names the URL in its errors;
// the log must not.
func TestUnreachableReceiverRedacted(t *testing.T) {
	rc := newReceiver(t, nil)
	addr := rc.URL
	rc.Close() // nothing listens there any more
	d := desired(map[string]schema.Ping{"hook": {Kind: "webhook", URLFile: secretFile(t, addr+"/hook/"+secret)}})
	s, logs := sender(t, d, time.Second)
	s.Send(Ping{Command: "drill", Event: Success})
	s.Wait()
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("log does not say why:\n%s", logs)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("a secret reached the log:\n%s", logs)
	}
}

// TestSecretFiles: a ping whose file is missing, a symlink, or not a URL is
// reported by file name, without the file's content, and left out.
func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	notURL := secretFile(t, "not a url "+secret)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(secretFile(t, "https://hc-ping.com/"+secret), link); err != nil {
		t.Fatal(err)
	}
	good := secretFile(t, "https://hc-ping.com/"+secret)
	targets, problems := Targets(desired(map[string]schema.Ping{
		"missing": {Kind: "healthchecks", URLFile: filepath.Join(dir, "nope")},
		"link":    {Kind: "healthchecks", URLFile: link},
		"garbage": {Kind: "webhook", URLFile: notURL},
		"token":   {Kind: "ntfy", URLFile: good, TokenFile: filepath.Join(dir, "no-token")},
		"good":    {Kind: "healthchecks", URLFile: good},
	}))
	if len(targets) != 1 || targets[0].Name != "good" {
		t.Errorf("targets %+v, want only good", targets)
	}
	var all []string
	for _, p := range problems {
		all = append(all, p.Error())
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{`ping "missing"`, `ping "link"`, `ping "garbage": ` + notURL + " does not hold an http(s) URL", `ping "token"`, "no-token"} {
		if !strings.Contains(text, want) {
			t.Errorf("problems lack %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, secret) {
		t.Errorf("a secret is in the problems:\n%s", text)
	}
}

// TestLogTail: a long log is cut to its last MaxLog bytes, at a line.
func TestLogTail(t *testing.T) {
	var long strings.Builder
	for i := 0; long.Len() < 3*MaxLog; i++ {
		long.WriteString(strings.Repeat("x", 50) + " line\n")
	}
	long.WriteString("the last line")
	got := tail(long.String(), MaxLog)
	if len(got) > MaxLog+len("…\n") || !strings.HasPrefix(got, "…\n") || !strings.HasSuffix(got, "the last line") {
		t.Errorf("tail: %d bytes, starts %q, ends %q", len(got), got[:10], got[len(got)-15:])
	}
	if !strings.HasPrefix(got[len("…\n"):], strings.Repeat("x", 50)+" line\n") {
		t.Errorf("tail does not start at a line: %q", got[:60])
	}
	if short := "two\nlines"; tail(short, MaxLog) != short {
		t.Errorf("a short log was changed")
	}
}

// TestFromDesiredReadsSecretsAtFirstPing: building the sender reads no
// file (plan builds one and never pings); the first ping reads them, and a
// missing one is logged and left out while the others are sent.
func TestFromDesiredReadsSecretsAtFirstPing(t *testing.T) {
	rc := newReceiver(t, nil)
	dir := t.TempDir()
	later := filepath.Join(dir, "written-later")
	d := desired(map[string]schema.Ping{
		"hc":      {Kind: "healthchecks", URLFile: later},
		"missing": {Kind: "webhook", URLFile: filepath.Join(dir, "nope")},
	})
	s := FromDesired(d)
	if err := os.WriteFile(later, []byte(rc.URL+"/ping/"+secret), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s.Log = slog.New(slog.NewTextHandler(&logs, nil))
	s.Send(Ping{Command: "apply", Event: Start})
	s.Wait()
	if got := rc.requests(); len(got) != 1 || got[0].Path != "/ping/"+secret+"/start" {
		t.Errorf("requests: %+v", got)
	}
	if !strings.Contains(logs.String(), `ping left out`) || !strings.Contains(logs.String(), `ping \"missing\"`) {
		t.Errorf("log: %s", logs.String())
	}
	if FromDesired(desired(map[string]schema.Ping{})) != nil {
		t.Errorf("a sender without pings")
	}
}
