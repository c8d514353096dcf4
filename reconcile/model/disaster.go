package model

import (
	"io/fs"
	"slices"

	"github.com/drsync/drsync/reconcile/model/health"
)

// MissingSourceError is a provider's CheckSource verdict on a source that
// does not exist: the disaster drsync recover is for.
type MissingSourceError struct{ Path string }

func (e *MissingSourceError) Error() string { return "source " + e.Path + " does not exist" }
func (e *MissingSourceError) Unwrap() error { return fs.ErrNotExist }

// KindAcceptSource journals that a person accepted a source that looks
// wiped or replaced, as it is (drsync recover --accept-source).
const KindAcceptSource Kind = "accept-source"

// Disaster says why a present source looks destroyed or replaced rather
// than changed, or "" when it does not: no local snapshot while the drive
// holds replicas, no ancestry to its snapshots, or most of its entries
// gone compared with its newest snapshot.
func (st *SubvolumeState) Disaster() string {
	h := st.Health
	if h == nil || st.SourceError != "" {
		return ""
	}
	if h.Error != "" {
		return "its health could not be checked: " + h.Error
	}
	if len(st.Local) == 0 && len(Replicas(st.External)) > 0 {
		return "it has no local snapshot while the drive holds replicas, so nothing shows it descends from them"
	}
	if h.UUID != "" && !related(h, st.Local) {
		return "it is a new subvolume with no ancestry to its snapshots (none was taken of it, and it is no snapshot of one)"
	}
	return h.Lost()
}

// related reports whether a snapshot was taken of the source, or the
// source is a writable snapshot of one or of the same subvolume as one
// (a recovery).
func related(h *health.Source, local []Snapshot) bool {
	if len(local) == 0 {
		return true // nothing to be related to: a first snapshot
	}
	return slices.ContainsFunc(local, func(s Snapshot) bool {
		return (s.ParentUUID != "" && s.ParentUUID == h.UUID) ||
			(h.ParentUUID != "" && (s.UUID == h.ParentUUID || s.ParentUUID == h.ParentUUID))
	})
}
