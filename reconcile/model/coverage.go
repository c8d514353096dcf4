package model

import (
	"time"

	"github.com/drsync/drsync/verify/coverage"
)

// Coverage (issue 15): with a tier's restoreTest.coverage, every restore
// test also verifies one slice of the copy it tests (verify.SliceOf: a
// hash of the path), compared file by file with the local snapshot. The
// slice due is the one of that copy verified longest ago (never verified
// first, then by index), so n on-time tests verify every slice once, and
// a failed or skipped test does not skip a slice as a clock-derived index
// would.

// SliceProof records that a test verified one slice of one copy.
type SliceProof struct {
	// Location is the copy's declared location (the drive for a replica,
	// the local location for the snapshot it was compared with).
	Location string `json:"location"`
	Snapshot string `json:"snapshot"`
	Slice    int    `json:"slice"`
	Slices   int    `json:"slices"`
	// Generation is the copy's filesystem generation when it was verified
	// (0: unknown, as on plain directories): a file of a later snapshot
	// whose inode carries no newer generation is unchanged since, and
	// counts as verified.
	Generation uint64    `json:"generation,omitempty"`
	Verified   time.Time `json:"verified"`
	Files      int       `json:"files"`
	Bytes      int64     `json:"bytes"`
	Seconds    float64   `json:"seconds"`
	Passed     bool      `json:"passed"`
}

// SliceCounter is implemented by storage that can count a copy's slices
// from metadata alone and tell its filesystem generation.
type SliceCounter interface {
	// CountSlices counts each of n slices of the copy at path; since[k] > 0
	// also counts slice k's files unchanged since that generation.
	CountSlices(path string, n int, since []uint64) ([]coverage.SliceCount, error)
	// Generation is the filesystem generation of the copy at path (0:
	// unknown).
	Generation(path string) (uint64, error)
}

// CopySlices is one copy's newest snapshot, counted slice by slice.
type CopySlices struct {
	Location string                `json:"location"`
	External bool                  `json:"external,omitempty"`
	Snapshot string                `json:"snapshot"`
	Slices   []coverage.SliceCount `json:"slices,omitempty"`
	Error    string                `json:"error,omitempty"`
}

// recordCoverage keeps, per copy and slice, the newest verification: a
// failed one replaces an earlier pass, and a new number of slices (the
// window or cadence changed) starts the copy over.
func (h *History) recordCoverage(r *TestReport) {
	for _, p := range r.Coverage {
		if p.Slices <= 0 || p.Slice < 0 || p.Slice >= p.Slices {
			continue
		}
		if h.Coverage == nil {
			h.Coverage = map[string][]*SliceProof{}
		}
		proofs := h.Coverage[p.Location]
		if len(proofs) != p.Slices {
			proofs = make([]*SliceProof, p.Slices)
		}
		p.Verified = r.Started // apply times the report by its run's clock (--now)
		proofs[p.Slice] = &p
		h.Coverage[p.Location] = proofs
	}
}

// LiveProof is the proof of slice k of n that still counts at now within
// window, or nil.
func LiveProof(proofs []*SliceProof, k, n int, window time.Duration, now time.Time) *SliceProof {
	if len(proofs) != n || k >= n {
		return nil
	}
	p := proofs[k]
	if p == nil || !p.Passed || now.Sub(p.Verified) >= window {
		return nil
	}
	return p
}

// DueSlice is the slice of a copy a test verifies next: the one whose
// newest passing verification is oldest, never-verified ones first.
func DueSlice(proofs []*SliceProof, n int) int {
	due, oldest := 0, time.Time{}
	for k := range n {
		var p *SliceProof
		if len(proofs) == n {
			p = proofs[k]
		}
		if p == nil || !p.Passed {
			return k
		}
		if k == 0 || p.Verified.Before(oldest) {
			due, oldest = k, p.Verified
		}
	}
	return due
}

// SinceGenerations lists, per slice, the generation a copy's files must
// not exceed to count as unchanged since the slice's newest passing
// verification (0: none on record). Whether that verification still
// counts at a given time is coverageEvidence's to judge.
func SinceGenerations(proofs []*SliceProof, n int) []uint64 {
	since := make([]uint64, n)
	if len(proofs) != n {
		return since
	}
	for k, p := range proofs {
		if p != nil && p.Passed {
			since[k] = p.Generation
		}
	}
	return since
}
