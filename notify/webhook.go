package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Webhook posts every ping as one JSON object, for whatever a person wires
// up to receive it.
type Webhook struct {
	URL   string
	Token string // sent as a bearer token; may be empty
}

// WebhookBody is what a webhook receives.
type WebhookBody struct {
	Command string    `json:"command"`
	Event   Event     `json:"event"`
	OK      bool      `json:"ok"` // false only for a failure
	Host    string    `json:"host,omitempty"`
	Time    time.Time `json:"time"`
	Title   string    `json:"title"`
	Log     string    `json:"log,omitempty"`
}

// Send implements Notifier.
func (w Webhook) Send(ctx context.Context, c *http.Client, p Ping) error {
	b, err := json.Marshal(WebhookBody{Command: p.Command, Event: p.Event, OK: p.Event != Fail, Host: p.Host,
		Time: p.Time.UTC(), Title: title(p), Log: p.Log})
	if err != nil {
		return fmt.Errorf("encoding webhook body: %w", err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return post(ctx, c, w.URL, bearer(h, w.Token), string(b))
}
