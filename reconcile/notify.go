package reconcile

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/drsync/drsync/notify"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// The pipeline's notify step: a ping when a run starts, and one when it
// ends, saying whether it failed and why in a short log. Pings go out in the
// background (notify.Sender); the end of a run waits for them at most their
// budget, and their failures are only logged: a ping never fails a run.

// runPings is what the notify step learns while the run goes on.
type runPings struct {
	sender *notify.Sender
	host   string
	// problems are failed actions and failed proofs, one line each.
	problems []string
}

func (r *run) pingStart() {
	if r.env.Pings == nil || r.opts.DryRun {
		return
	}
	r.pings = &runPings{sender: r.env.Pings, host: hostName(r.d)}
	r.pings.sender.Send(notify.Ping{Command: r.opts.Command, Event: notify.Start, Host: r.pings.host, Time: r.opts.Now})
	inner := r.opts.Notify
	r.opts.Notify = func(e Event) {
		r.pings.learn(e)
		if inner != nil {
			inner(e)
		}
	}
}

// learn keeps the lines a person must read: failed actions, and proofs
// that ran and failed.
func (p *runPings) learn(e Event) {
	what := strings.TrimSpace(fmt.Sprintf("%s %s %s", e.Action.Kind, e.Action.Subvolume, e.Action.Snapshot))
	switch {
	case e.Phase == model.PhaseFailed:
		p.problems = append(p.problems, fmt.Sprintf("%s: %s", what, e.Error))
	case e.Report != nil && e.Report.Result == model.ResultFail:
		line := fmt.Sprintf("%s: FAILED, %d problems", what, len(e.Report.Failures)+e.Report.FailuresOmitted)
		for i, f := range e.Report.Failures {
			if i == 3 {
				line += "\n  …"
				break
			}
			line += fmt.Sprintf("\n  %s: %s", f.Path, f.Check)
		}
		p.problems = append(p.problems, line)
	}
}

// pingEnd reports how the run ended and waits for the run's pings.
func (r *run) pingEnd(out Outcome, err error) {
	p := r.pings
	if p == nil {
		return
	}
	failed := (err != nil && !errors.Is(err, ErrDeclined)) || len(p.problems) > 0
	event := notify.Success
	if failed {
		event = notify.Fail
	}
	var log strings.Builder
	fmt.Fprintf(&log, "%s: %s", r.opts.Command, out.Status)
	if out.Step != "" && err != nil {
		fmt.Fprintf(&log, " at step %s", out.Step)
	}
	log.WriteString("\n")
	if out.Plan != nil {
		fmt.Fprintf(&log, "plan: %s\n", out.Plan.Summary())
	}
	if res := out.Result; res.Done+res.Failed+res.Skipped > 0 {
		fmt.Fprintf(&log, "actions: %d done, %d failed, %d skipped\n", res.Done, res.Failed, res.Skipped)
	}
	for _, line := range p.problems {
		log.WriteString(line + "\n")
	}
	if err != nil {
		fmt.Fprintf(&log, "error: %v\n", err)
	}
	p.sender.Send(notify.Ping{Command: r.opts.Command, Event: event, Host: p.host, Time: r.clock(), Log: log.String()})
	p.sender.Wait()
}

// hostName is the name pings give this machine: the desired state's, or
// the hostname.
func hostName(d *schema.Desired) string {
	if d.Host != "" {
		return d.Host
	}
	h, _ := os.Hostname()
	return h
}
