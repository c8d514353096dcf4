package reconcile

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/render"
	"github.com/drsync/drsync/schema"
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

// liveProof is the proof of slice k of n that still counts at now within
// window, or nil.
func liveProof(proofs []*SliceProof, k, n int, window time.Duration, now time.Time) *SliceProof {
	if len(proofs) != n || k >= n {
		return nil
	}
	p := proofs[k]
	if p == nil || !p.Passed || now.Sub(p.Verified) >= window {
		return nil
	}
	return p
}

// dueSlice is the slice of a copy a test verifies next: the one whose
// newest passing verification is oldest, never-verified ones first.
func dueSlice(proofs []*SliceProof, n int) int {
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

// sinceGenerations lists, per slice, the generation a copy's files must
// not exceed to count as unchanged since the slice's newest passing
// verification (0: none on record). Whether that verification still
// counts at a given time is coverageEvidence's to judge.
func sinceGenerations(proofs []*SliceProof, n int) []uint64 {
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

// observeCoverage counts the slices of the newest local snapshot and
// replica of each subvolume whose tier declares coverage, with the
// generations its proofs on record were made at. A run counts again after
// applying, so the evidence it renders includes its own snapshots and
// tests.
func observeCoverage(d *schema.Desired, st Storage, o *Observed) {
	counter, ok := st.(SliceCounter)
	if !ok {
		return
	}
	for _, name := range d.SubvolumeNames() {
		s, ss := d.Subvolumes[name], o.Subvolumes[name]
		n := d.Tiers[s.Tier].RestoreTest.Slices()
		if n == 0 || ss == nil {
			continue
		}
		ss.Coverage = nil
		var h History
		if hp := o.History[name]; hp != nil {
			h = *hp
		}
		copies := []struct {
			loc      string
			external bool
			snaps    []Snapshot
		}{{s.Snapshots.Location, false, ss.Local}}
		if s.External != nil {
			copies = append(copies, struct {
				loc      string
				external bool
				snaps    []Snapshot
			}{s.External.Location, true, Replicas(ss.External)})
		}
		for _, c := range copies {
			if len(c.snaps) == 0 {
				continue
			}
			newest := c.snaps[len(c.snaps)-1].Name
			cs := CopySlices{Location: c.loc, External: c.external, Snapshot: newest}
			path := filepath.Join(d.SnapshotDir(c.loc, name), newest)
			var err error
			if cs.Slices, err = counter.CountSlices(path, n, sinceGenerations(h.Coverage[c.loc], n)); err != nil {
				cs.Error = err.Error()
			}
			ss.Coverage = append(ss.Coverage, cs)
		}
	}
}

// coverageEvidence is how much of each copy of a subvolume the slices on
// record verified within its tier's window: a slice verified against the
// copy's newest snapshot counts whole, one verified against an older
// snapshot counts for the files unchanged since.
func coverageEvidence(d *schema.Desired, name string, ss *SubvolumeState, h *History, now time.Time) []render.CopyCoverage {
	s := d.Subvolumes[name]
	rt := d.Tiers[s.Tier].RestoreTest
	n := rt.Slices()
	if n == 0 || ss == nil {
		return nil
	}
	var out []render.CopyCoverage
	for _, c := range ss.Coverage {
		if c.Error != "" || len(c.Slices) != n {
			continue
		}
		var proofs []*SliceProof
		if h != nil {
			proofs = h.Coverage[c.Location]
		}
		cc := render.CopyCoverage{Location: c.Location, External: c.External, Snapshot: c.Snapshot}
		for k, sc := range c.Slices {
			cc.Files += int64(sc.Files)
			cc.Bytes += sc.Bytes
			p := liveProof(proofs, k, n, rt.Coverage.Duration, now)
			switch {
			case p == nil:
			case p.Snapshot == c.Snapshot:
				cc.VerifiedFiles += int64(sc.Files)
				cc.VerifiedBytes += sc.Bytes
			default:
				cc.VerifiedFiles += int64(sc.UnchangedFiles)
				cc.VerifiedBytes += sc.UnchangedBytes
			}
		}
		out = append(out, cc)
	}
	return out
}

// planSlice sets the slice a planned test verifies and returns what the
// reason says of it: which slice of how many, and its size in the copy as
// observed ("slice 3 of 12: 41210 files, 88.0 GiB").
func planSlice(d *schema.Desired, s *schema.Subvolume, st *SubvolumeState, h *History, a *Action) string {
	n := d.Tiers[s.Tier].RestoreTest.Slices()
	if n == 0 || a.Kind != KindTest || a.Proof == nil {
		return ""
	}
	var proofs []*SliceProof
	if h != nil {
		proofs = h.Coverage[a.Location]
	}
	a.Proof.Slice, a.Proof.Slices = dueSlice(proofs, n), n
	if a.Proof.Reference != "" {
		a.Proof.ReferenceLocation = s.Snapshots.Location
	}
	note := fmt.Sprintf("slice %d of %d", a.Proof.Slice+1, n)
	for _, c := range st.Coverage {
		if c.Location == a.Location && len(c.Slices) == n {
			sc := c.Slices[a.Proof.Slice]
			note += fmt.Sprintf(": %s, %s", humane.Count(sc.Files, "file"), humane.Bytes(sc.Bytes))
		}
	}
	return note
}
