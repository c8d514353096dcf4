package notify

import (
	"context"
	"net/http"
	"strings"
)

// Healthchecks pings a healthchecks.io-style check: <url>/start when a run
// begins, <url> when it succeeds, <url>/fail when it fails, each with the
// short log as its body (healthchecks shows it beside the ping).
type Healthchecks struct {
	URL string
}

// Send implements Notifier.
func (h Healthchecks) Send(ctx context.Context, c *http.Client, p Ping) error {
	u := strings.TrimRight(h.URL, "/")
	switch p.Event {
	case Start:
		u += "/start"
	case Fail:
		u += "/fail"
	}
	body := title(p)
	if p.Log != "" {
		body += "\n\n" + p.Log
	}
	return post(ctx, c, u, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, body)
}
