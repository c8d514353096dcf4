package notify

import (
	"context"
	"net/http"
)

// Ntfy publishes to an ntfy topic (its URL, e.g. https://ntfy.sh/my-topic):
// the title and tags say what happened, a failure comes with high
// priority, and the body is the short log.
type Ntfy struct {
	URL   string
	Token string // access token for a protected topic; may be empty
}

var ntfyLook = map[Event]struct{ priority, tags string }{
	Start:   {"min", "hourglass_flowing_sand"},
	Success: {"default", "white_check_mark"},
	Fail:    {"high", "rotating_light"},
}

// Send implements Notifier.
func (n Ntfy) Send(ctx context.Context, c *http.Client, p Ping) error {
	look := ntfyLook[p.Event]
	h := http.Header{}
	h.Set("Title", title(p))
	h.Set("Priority", look.priority)
	h.Set("Tags", look.tags+",drsync")
	body := p.Log
	if body == "" {
		body = title(p)
	}
	return post(ctx, c, n.URL, bearer(h, n.Token), body)
}
