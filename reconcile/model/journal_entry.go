package model

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Phase marks where in its life a journal entry's subject is.
type Phase string

const (
	PhaseRunStart Phase = "run-start"
	PhaseRunEnd   Phase = "run-end"
	PhaseStart    Phase = "start"
	PhaseDone     Phase = "done"
	PhaseFailed   Phase = "failed"
	PhaseSkipped  Phase = "skipped"
)

// JournalEntry is one line of the journal.
type JournalEntry struct {
	Time     time.Time `json:"time"`
	Run      string    `json:"run"`
	Phase    Phase     `json:"phase"`
	Action   *Action   `json:"action,omitempty"`
	Bytes    int64     `json:"bytes,omitempty"`
	Seconds  float64   `json:"seconds,omitempty"`
	Error    string    `json:"error,omitempty"`
	Result   string    `json:"result,omitempty"`
	Revision string    `json:"revision,omitempty"`
	// Report is the evidence of a test or drill.
	Report *TestReport `json:"report,omitempty"`
	// Drives lists, on run-start, the external drives the plan found present.
	Drives []string `json:"drives,omitempty"`
	// Command names what started the run: apply, test or drill.
	Command string `json:"command,omitempty"`
}

// Journaled is the entry as the journal keeps it: a bounded report, and a
// generated file's digest and size instead of its content and diff (the
// file itself, and the plan that was applied, hold those).
func (e JournalEntry) Journaled() JournalEntry {
	if e.Report != nil {
		e.Report = e.Report.Journaled()
	}
	if e.Action != nil && e.Action.Write != nil && (e.Action.Write.Content != "" || e.Action.Write.Diff != "") {
		a := *e.Action
		sum := sha256.Sum256([]byte(a.Write.Content))
		a.Write = &WriteSpec{Digest: hex.EncodeToString(sum[:]), Size: int64(len(a.Write.Content))}
		e.Action = &a
	}
	return e
}

// RunSummary describes one apply run.
type RunSummary struct {
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	Result  string    `json:"result"`
}
