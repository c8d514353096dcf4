package model

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/drsync/drsync/internal/treecount"
)

// MissingSourceError is a provider's CheckSource verdict on a source that
// does not exist: the disaster drsync recover is for.
type MissingSourceError struct{ Path string }

func (e *MissingSourceError) Error() string { return "source " + e.Path + " does not exist" }
func (e *MissingSourceError) Unwrap() error { return fs.ErrNotExist }

// KindAcceptSource journals that a person accepted a source that looks
// wiped or replaced, as it is (drsync recover --accept-source).
const KindAcceptSource Kind = "accept-source"

// SourceHealth compares a source with a snapshot of it, so the planner can
// tell a destroyed or replaced source from one that changed.
type SourceHealth struct {
	// UUID and ParentUUID identify the source subvolume ("" on storage
	// without subvolume identities).
	UUID       string `json:"uuid,omitempty"`
	ParentUUID string `json:"parentUUID,omitempty"`
	// Entries are the files, directories and links in the source, counted
	// depth first in name order up to HealthLimit, and Bytes the sizes of
	// the regular files among them; Reference, ReferenceEntries and
	// ReferenceBytes are the same for its newest snapshot (the local one,
	// else the replica on the drive).
	Entries          int    `json:"entries"`
	Bytes            int64  `json:"bytes,omitempty"`
	Reference        string `json:"reference,omitempty"`
	ReferenceEntries int    `json:"referenceEntries"`
	ReferenceBytes   int64  `json:"referenceBytes,omitempty"`
	// Previous, PreviousEntries and PreviousBytes are the local snapshot
	// before the newest one, counted the same way (issue 15: a snapshot of
	// an unmounted pool is an empty one).
	Previous        string `json:"previous,omitempty"`
	PreviousEntries int    `json:"previousEntries,omitempty"`
	PreviousBytes   int64  `json:"previousBytes,omitempty"`
	Error           string `json:"error,omitempty"`
}

// HealthLimit bounds the entries counted per tree, so a plan stays cheap
// on a source of millions of files. A wiped or replaced source shows well
// within it; a loss deeper than the first HealthLimit entries does not.
const HealthLimit = 5000

// SourceInspector is implemented by storage that can count a tree and
// tell a source's identity.
type SourceInspector interface {
	// InspectSource fills SourceHealth for source against reference ("":
	// none).
	InspectSource(source, reference string) (SourceHealth, error)
}

// CountHealth counts the entries and bytes of source and, unless it is
// "", of reference into h, each up to HealthLimit entries.
func CountHealth(h *SourceHealth, source, reference string) error {
	src, err := treecount.Count(source, HealthLimit)
	h.Entries, h.Bytes = src.Entries, src.Bytes
	if err != nil || reference == "" {
		return err
	}
	ref, err := treecount.Count(reference, HealthLimit)
	h.ReferenceEntries, h.ReferenceBytes = ref.Entries, ref.Bytes
	return err
}

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
	ref := filepath.Base(h.Reference)
	switch {
	case h.ReferenceEntries > 0 && h.Entries == 0:
		return fmt.Sprintf("it is empty, while %s holds %d entries", ref, h.ReferenceEntries)
	case h.ReferenceEntries >= 20 && h.Entries*2 < h.ReferenceEntries:
		return fmt.Sprintf("it lost most of its data: %d entries, against %d in %s", h.Entries, h.ReferenceEntries, ref)
	}
	return ""
}

// related reports whether a snapshot was taken of the source, or the
// source is a writable snapshot of one or of the same subvolume as one
// (a recovery).
func related(h *SourceHealth, local []Snapshot) bool {
	if len(local) == 0 {
		return true // nothing to be related to: a first snapshot
	}
	return slices.ContainsFunc(local, func(s Snapshot) bool {
		return (s.ParentUUID != "" && s.ParentUUID == h.UUID) ||
			(h.ParentUUID != "" && (s.UUID == h.ParentUUID || s.ParentUUID == h.ParentUUID))
	})
}
