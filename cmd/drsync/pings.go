package main

import (
	"log/slog"

	"github.com/drsync/drsync/notify"
	"github.com/drsync/drsync/schema"
)

// pingsFor is the sender of d's declared pings, nil when none are
// declared. A ping whose secret file cannot be used is logged and left
// out: it must not stop the run it would report on.
func pingsFor(d *schema.Desired) *notify.Sender {
	if len(d.Pings) == 0 {
		return nil
	}
	targets, problems := notify.Targets(d)
	for _, p := range problems {
		slog.Warn("ping left out", "error", p)
	}
	return &notify.Sender{Targets: targets}
}
