package reconcile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Event reports progress of an apply to the caller (CLI output, metrics).
type Event struct {
	Action   Action        `json:"action"`
	Phase    Phase         `json:"phase"`
	Bytes    int64         `json:"bytes,omitempty"`
	Duration time.Duration `json:"durationNs,omitempty"`
	Err      error         `json:"-"`
	// Error is Err's text, for JSON.
	Error string `json:"error,omitempty"`
	// Note explains a skip.
	Note string `json:"note,omitempty"`
}

// Result sums up an apply.
type Result struct {
	Done    int   `json:"done"`
	Failed  int   `json:"failed"`
	Skipped int   `json:"skipped"`
	Bytes   int64 `json:"bytes"`
}

// Apply carries out a plan's actions in order (repairs, snapshots, sends,
// prunes), journaling each before and after it runs. Once an action of a
// subvolume fails, that subvolume's remaining actions are skipped: in
// particular no snapshot is pruned after its send failed, and no prune
// runs on the retention verdict of a snapshot that was never made.
// A cancelled ctx stops the apply between actions.
func Apply(ctx context.Context, p *Plan, st Storage, j *Journal, notify func(Event)) (Result, error) {
	if notify == nil {
		notify = func(Event) {}
	}
	run := fmt.Sprintf("%s-%d", time.Now().UTC().Format("20060102T150405.000"), os.Getpid())
	if err := j.Append(JournalEntry{Time: time.Now(), Run: run, Phase: PhaseRunStart}); err != nil {
		return Result{}, err
	}
	var res Result
	failed := map[string]string{} // subvolume → the action that failed
	var stopErr error
	for _, a := range p.Actions() {
		a := a
		if stopErr == nil && ctx.Err() != nil {
			stopErr = ctx.Err()
		}
		if stopErr != nil || failed[a.Subvolume] != "" {
			note := "not run: " + failed[a.Subvolume] + " failed earlier"
			if stopErr != nil {
				note = "not run: apply was stopped"
			}
			res.Skipped++
			if err := j.Append(JournalEntry{Time: time.Now(), Run: run, Phase: PhaseSkipped, Action: &a, Error: note}); err != nil {
				return res, err
			}
			notify(Event{Action: a, Phase: PhaseSkipped, Note: note})
			continue
		}
		if err := j.Append(JournalEntry{Time: time.Now(), Run: run, Phase: PhaseStart, Action: &a}); err != nil {
			return res, err
		}
		notify(Event{Action: a, Phase: PhaseStart})
		start := time.Now()
		bytes, err := run1(ctx, st, a, func(n int64) { notify(Event{Action: a, Phase: PhaseStart, Bytes: n}) })
		e := JournalEntry{Time: time.Now(), Run: run, Phase: PhaseDone, Action: &a, Bytes: bytes, Seconds: time.Since(start).Seconds()}
		if err != nil {
			e.Phase, e.Error = PhaseFailed, err.Error()
			failed[a.Subvolume] = string(a.Kind) + " " + a.Snapshot
			res.Failed++
		} else {
			res.Done++
			res.Bytes += bytes
		}
		if jerr := j.Append(e); jerr != nil {
			return res, jerr
		}
		notify(Event{Action: a, Phase: e.Phase, Bytes: bytes, Duration: time.Since(start), Err: err, Error: e.Error})
	}
	result := "ok"
	if res.Failed > 0 {
		result = "failed"
	} else if stopErr != nil {
		result = "stopped"
	}
	if err := j.Append(JournalEntry{Time: time.Now(), Run: run, Phase: PhaseRunEnd, Result: result}); err != nil {
		return res, err
	}
	if stopErr != nil {
		return res, fmt.Errorf("apply stopped: %w", stopErr)
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("%d of %d actions failed (see %s)", res.Failed, res.Done+res.Failed+res.Skipped, j.Path())
	}
	return res, nil
}

func run1(ctx context.Context, st Storage, a Action, progress func(int64)) (int64, error) {
	switch a.Kind {
	case KindSnapshot:
		return 0, st.Snapshot(ctx, a.From, a.Path)
	case KindSend:
		return st.Send(ctx, a.From, a.Parent, filepath.Dir(a.Path), progress)
	case KindRepair, KindPrune:
		return 0, st.Delete(ctx, a.Path)
	}
	return 0, fmt.Errorf("unknown action kind %q", a.Kind)
}
