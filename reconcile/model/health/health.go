// Package health compares a source with its snapshots by counting their
// trees, so the planner can tell a destroyed, replaced or shrunken source
// from one that changed. It holds the counts and the verdicts drawn from
// counts alone; the verdicts that need the snapshot lists (ancestry, a
// missing local snapshot) are model.SubvolumeState's.
package health

import (
	"fmt"
	"path/filepath"
	"sync"

	"github.com/drsync/drsync/internal/treecount"
)

// Source compares a source with a snapshot of it.
type Source struct {
	// UUID and ParentUUID identify the source subvolume ("" on storage
	// without subvolume identities).
	UUID       string `json:"uuid,omitempty"`
	ParentUUID string `json:"parentUUID,omitempty"`
	// Entries are the files, directories and links in the source, counted
	// depth first in name order up to Limit, and Bytes the sizes of
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

// Limit bounds the entries counted per tree, so a plan stays cheap
// on a source of millions of files. A wiped or replaced source shows well
// within it; a loss deeper than the first Limit entries does not.
const Limit = 5000

// Inspector is implemented by storage that can count a tree and tell a
// source's identity.
type Inspector interface {
	// InspectSource fills Source for source against reference ("":
	// none).
	InspectSource(source, reference string) (Source, error)
}

// Count counts the entries and bytes of source and, unless it is "", of
// reference into h, each up to Limit entries. The two trees are counted
// at once: on a cold cache each is a chain of small reads from the disk,
// which overlap.
func Count(h *Source, source, reference string) error {
	var ref treecount.Tally
	var refErr error
	var counted sync.WaitGroup
	if reference != "" {
		counted.Go(func() { ref, refErr = treecount.Count(reference, Limit) })
	}
	src, err := treecount.Count(source, Limit)
	counted.Wait()
	h.Entries, h.Bytes = src.Entries, src.Bytes
	if err != nil || reference == "" {
		return err
	}
	h.ReferenceEntries, h.ReferenceBytes = ref.Entries, ref.Bytes
	return refErr
}

// Lost says how the source lost most of its entries compared with its
// newest snapshot, or "" when it did not.
func (h *Source) Lost() string {
	ref := filepath.Base(h.Reference)
	switch {
	case h.ReferenceEntries > 0 && h.Entries == 0:
		return fmt.Sprintf("it is empty, while %s holds %d entries", ref, h.ReferenceEntries)
	case h.ReferenceEntries >= 20 && h.Entries*2 < h.ReferenceEntries:
		return fmt.Sprintf("it lost most of its data: %d entries, against %d in %s", h.Entries, h.ReferenceEntries, ref)
	}
	return ""
}
