package model

import "time"

// KindRecover marks the steps of a recovery in the journal. Compute never
// plans one and Apply never runs one: drsync recover (package recovery)
// runs them when a person asks, journaling each like an action.
const KindRecover Kind = "recover"

// RecoverStep is a recovery step's payload: which step, what it read
// (Path is what it wrote), and when the copy recovered from was taken.
type RecoverStep struct {
	Step         string    `json:"step"`
	From         string    `json:"from"`
	SnapshotTime time.Time `json:"snapshotTime,omitzero"`
}
