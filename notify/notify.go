// Package notify tells people without Prometheus how drsync's commands
// went: a ping at start, on success and on failure, to healthchecks-style
// URLs, ntfy topics and generic JSON webhooks (one file per kind, after
// borgmatic's monitoring hooks).
//
// A ping never blocks or fails the work it reports on: Send returns at
// once, each ping retries with backoff only within its own time budget,
// and failures are logged, never returned. URLs carry secrets (a check's
// UUID, a private topic), so they are read from files and never logged.
package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/drsync/drsync/schema"
)

// Event is the moment of a command a ping reports.
type Event string

// The events of a command's run.
const (
	Start   Event = "start"
	Success Event = "success"
	Fail    Event = "fail"
)

// Ping is what a notifier is told.
type Ping struct {
	Command string // apply, test, drill, watch
	Event   Event
	Host    string
	Time    time.Time
	// Log is a short account of the run (cut to its last MaxLog bytes).
	Log string
}

// MaxLog bounds the log a ping carries: enough for the failing lines, small
// enough for every service's body limit (healthchecks keeps 100 kB).
const MaxLog = 10_000

// Notifier sends one ping to one place. It does one attempt, honours ctx,
// and returns an error that says whether another attempt may help.
type Notifier interface {
	Send(ctx context.Context, c *http.Client, p Ping) error
}

// Target is a declared ping: a notifier and when it is used.
type Target struct {
	Name, Kind string
	Notifier   Notifier
	Commands   []string
	Events     []Event
	// Budget bounds one ping to this target, retries included (zero: the
	// Sender's).
	Budget time.Duration
}

func (t Target) wants(p Ping) bool {
	return slices.Contains(t.Commands, p.Command) && slices.Contains(t.Events, p.Event)
}

// Sender delivers pings to its targets in the background.
type Sender struct {
	Targets []Target
	Log     *slog.Logger
	// Budget is the most time one ping may take, retries included, for
	// targets without their own.
	Budget time.Duration
	// Client makes the requests; its own timeout is not relied upon.
	Client *http.Client

	wg      sync.WaitGroup
	resolve func() ([]Target, []error) // adds Targets at the first Send
	once    sync.Once
}

// FromDesired is a Sender for d's pings, nil when none are declared. Their
// secret files are read when the first ping is sent, so a command that
// never pings (plan) never reads them; a ping whose file cannot be used is
// logged and left out.
func FromDesired(d *schema.Desired) *Sender {
	if len(d.Pings) == 0 {
		return nil
	}
	return &Sender{resolve: func() ([]Target, []error) { return Targets(d) }}
}

// DefaultBudget keeps the wait at the end of a run short even when a
// receiver hangs.
const DefaultBudget = 20 * time.Second

// Send starts delivering p to every target that wants it and returns at
// once.
func (s *Sender) Send(p Ping) {
	if s == nil {
		return
	}
	s.once.Do(func() {
		if s.resolve == nil {
			return
		}
		targets, problems := s.resolve()
		s.Targets = append(s.Targets, targets...)
		for _, err := range problems {
			s.logger().Warn("ping left out", "error", err)
		}
	})
	if p.Time.IsZero() {
		p.Time = time.Now()
	}
	p.Log = tail(p.Log, MaxLog)
	for _, t := range s.Targets {
		if !t.wants(p) {
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.deliver(t, p)
		}()
	}
}

// Wait returns when every ping sent so far has been delivered or has run
// out of its budget: call it before the process exits.
func (s *Sender) Wait() {
	if s != nil {
		s.wg.Wait()
	}
}

// deliver tries one target until it succeeds, fails for good, or the
// budget is spent: 0.5 s, 1 s, 2 s … between attempts.
func (s *Sender) deliver(t Target, p Ping) {
	budget := t.Budget
	if budget <= 0 {
		budget = s.Budget
	}
	if budget <= 0 {
		budget = DefaultBudget
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	log := s.logger().With("ping", t.Name, "kind", t.Kind, "command", p.Command, "event", string(p.Event))
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := t.Notifier.Send(ctx, client, p)
		if err == nil {
			log.Debug("ping sent", "attempt", attempt)
			return
		}
		var perm permanentError
		if errors.As(err, &perm) {
			log.Warn("ping refused; not retrying", "attempt", attempt, "error", redact(err))
			return
		}
		select {
		case <-ctx.Done():
			log.Warn("ping not delivered within its budget", "attempts", attempt, "budget", budget, "error", redact(err))
			return
		case <-time.After(wait):
			wait *= 2
		}
	}
}

func (s *Sender) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// permanentError is an answer another attempt will not change (a 4xx).
type permanentError struct{ status int }

func (e permanentError) Error() string {
	return fmt.Sprintf("answered %d %s", e.status, http.StatusText(e.status))
}

// post sends one request and turns the answer into an error: a 4xx other
// than 429 is permanent, anything else failing may pass on a retry.
func post(ctx context.Context, c *http.Client, u string, header http.Header, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("building request: %w", redact(err))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests:
		return permanentError{resp.StatusCode}
	}
	return fmt.Errorf("answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
}

// redact drops the URL net/http puts in its errors: it may hold a token.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, redact(ue.Err))
	}
	return err
}

// tail keeps the last n bytes of s, starting at a line when it can.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		s = s[i+1:]
	}
	return "…\n" + s
}

// title is the one line a person sees first.
func title(p Ping) string {
	what := map[Event]string{Start: "started", Success: "succeeded", Fail: "FAILED"}[p.Event]
	if p.Host == "" {
		return fmt.Sprintf("drsync %s %s", p.Command, what)
	}
	return fmt.Sprintf("drsync %s %s on %s", p.Command, what, p.Host)
}

func bearer(h http.Header, token string) http.Header {
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}
