// Package reports keeps the report of every restore test, drill, recovery
// and rehearsal as two files a person can open: <kind>-<time>.log (text)
// and <kind>-<time>.json, in <stateDir>/reports, root's and private
// (0700/0600). They are written, listed, read and pruned through the
// directory's descriptor (internal/safefs), never by a path resolved twice.
package reports

import (
	"fmt"
	"time"

	"github.com/drsync/drsync/reconcile/model"
)

// Kind is what a report is of; it starts its file names.
type Kind string

// The kinds of report.
const (
	RestoreTest Kind = "restore-test"
	Drill       Kind = "drill"
	Recover     Kind = "recover"
	Rehearse    Kind = "rehearse"
)

// Kinds lists every kind, in the order `drsync report` looks for them.
var Kinds = []Kind{RestoreTest, Drill, Recover, Rehearse}

// Report is one run: what it proved, item by item, and a summary.
type Report struct {
	Kind    Kind      `json:"kind"`
	Host    string    `json:"host,omitempty"`
	Started time.Time `json:"started"`
	Items   []Item    `json:"items"`
	Summary Summary   `json:"summary"`
}

// Item is one subvolume, service or runbook of a run.
type Item struct {
	// Name is the subvolume, service or runbook.
	Name string `json:"name"`
	// Copy names what was read (a snapshot or an archive) and Location
	// where it lives.
	Copy     string       `json:"copy,omitempty"`
	Location string       `json:"location,omitempty"`
	Result   model.Result `json:"result"`
	// Why says why the item was skipped, or which copy was read and why.
	Why     string  `json:"why,omitempty"`
	Seconds float64 `json:"seconds"`
	// RestoreSeconds and VerifySeconds split Seconds when a run measures
	// them apart (a drill: restoring vs starting and checking the service).
	RestoreSeconds float64 `json:"restoreSeconds,omitempty"`
	VerifySeconds  float64 `json:"verifySeconds,omitempty"`
	// RTOTargetSeconds is the target Seconds is measured against, if any.
	RTOTargetSeconds float64   `json:"rtoTargetSeconds,omitempty"`
	Files            int       `json:"files"`
	Bytes            int64     `json:"bytes"`
	Failures         []Failure `json:"failures,omitempty"`
	// FailuresOmitted counts failures beyond those listed.
	FailuresOmitted int `json:"failuresOmitted,omitempty"`
}

// Failure is one check that failed, on one file or on the whole item
// (Path ".").
type Failure struct {
	Path   string `json:"path"`
	Check  string `json:"check"`
	Detail string `json:"detail,omitempty"`
}

// Summary counts the items by result; SuccessRate is passed over the
// items that ran (skips are not counted), 0 when none ran.
type Summary struct {
	Items       int     `json:"items"`
	Passed      int     `json:"passed"`
	Failed      int     `json:"failed"`
	Skipped     int     `json:"skipped"`
	SuccessRate float64 `json:"successRate"`
}

// maxFailures bounds the failures an item keeps in a report: a drill of a
// wrecked copy can find millions, and the report is for reading.
const maxFailures = 1000

// Summarize fills r.Summary from its items and bounds their failures.
func (r *Report) Summarize() {
	s := Summary{Items: len(r.Items)}
	for i := range r.Items {
		it := &r.Items[i]
		if n := len(it.Failures); n > maxFailures {
			it.FailuresOmitted += n - maxFailures
			it.Failures = it.Failures[:maxFailures:maxFailures]
		}
		switch it.Result {
		case model.ResultPass:
			s.Passed++
		case model.ResultSkip:
			s.Skipped++
		default:
			s.Failed++
		}
	}
	if ran := s.Passed + s.Failed; ran > 0 {
		s.SuccessRate = float64(s.Passed) / float64(ran)
	}
	r.Summary = s
}

// Validate refuses a report that could not be named or read back.
func (r *Report) Validate() error {
	known := false
	for _, k := range Kinds {
		known = known || r.Kind == k
	}
	if !known {
		return fmt.Errorf("report kind %q: want one of %v", r.Kind, Kinds)
	}
	if r.Started.IsZero() {
		return fmt.Errorf("%s report: no start time", r.Kind)
	}
	return nil
}
