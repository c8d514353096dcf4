package model

import (
	"context"
	"strings"
	"time"

	"github.com/drsync/drsync/schema"
)

// TestReport is the outcome of a restore test or a drill: the evidence
// that a snapshot restores. It is journaled, and plan, status, metrics and
// runbooks are computed from it.
type TestReport struct {
	Kind      Kind   `json:"kind"` // KindTest or KindDrill
	Subvolume string `json:"subvolume"`
	Snapshot  string `json:"snapshot"`
	// SnapshotTime is the time the tested snapshot was taken: a pass makes
	// it the newest verified-restorable point, from which real RPO counts.
	SnapshotTime time.Time `json:"snapshotTime"`
	// Location is where the tested copy was read from, and Why says why
	// that one (the external replica is preferred).
	Location string `json:"location"`
	Why      string `json:"why,omitempty"`
	// Reference is the local snapshot an external replica was also
	// compared with.
	Reference  string    `json:"reference,omitempty"`
	Seed       int64     `json:"seed,omitempty"`
	SampleSize int       `json:"sampleSize,omitempty"`
	Result     Result    `json:"result"` // ResultPass, ResultFail or ResultSkip
	Files      int       `json:"files"`
	Bytes      int64     `json:"bytes"`
	Seconds    float64   `json:"seconds"`
	Failures   []Failure `json:"failures,omitempty"`
	// FailuresOmitted counts the failures a journaled report leaves out.
	FailuresOmitted int `json:"failuresOmitted,omitempty"`
	// Paths are the sampled files a test restored and verified, and
	// Checked each of them (or each archive member) with the checks it
	// passed and failed; the journal keeps only their number (Files) and
	// the seed that drew them.
	Paths   []string    `json:"paths,omitempty"`
	Checked []FileCheck `json:"checked,omitempty"`
	// Scratch is kept for inspection when the test failed.
	Scratch string `json:"scratch,omitempty"`
	// RTOTargetSeconds is a drill's target. A drill's Seconds is the whole
	// drill; RestoreSeconds (the receive: what a recovery costs, the
	// measured RTO; for a copy fetched from off-site: download, decryption
	// and receive; for a service, restoring its archive) and VerifySeconds
	// (comparing every file; for a service, starting it on the restored
	// data and checking it) are its parts,
	// absent in reports from before they were timed apart.
	RTOTargetSeconds float64   `json:"rtoTargetSeconds,omitempty"`
	RestoreSeconds   float64   `json:"restoreSeconds,omitempty"`
	VerifySeconds    float64   `json:"verifySeconds,omitempty"`
	Started          time.Time `json:"started"`
	// Coverage lists the slices a test verified, one per copy it read.
	Coverage []SliceProof `json:"coverage,omitempty"`
}

// RTOSeconds is a drill's measured recovery time: the restore alone, or
// the whole drill in reports without parts.
func (r TestReport) RTOSeconds() float64 {
	if r.RestoreSeconds > 0 {
		return r.RestoreSeconds
	}
	return r.Seconds
}

// Failure names a file and the check it failed. Path is relative to the
// subvolume or service (for the archive itself, its file name); WantFrom
// and GotFrom name where each value was read: "local snapshot", "replica",
// "restored copy", "archive", "checksum file".
type Failure struct {
	Path     string `json:"path"`
	Check    string `json:"check"`
	Want     string `json:"want,omitempty"`
	WantFrom string `json:"wantFrom,omitempty"`
	Got      string `json:"got,omitempty"`
	GotFrom  string `json:"gotFrom,omitempty"`
}

// Detail says each side's value and where it was read, e.g. "snapshot
// 0644, got 0600". value is applied to each value first (terminal output
// escapes them); nil keeps them as they are.
func (f Failure) Detail(value func(string) string) string {
	if value == nil {
		value = func(s string) string { return s }
	}
	var parts []string
	side := func(from, v, fallback string) {
		switch {
		case from == "" && v == "":
		case v == "":
			parts = append(parts, "in "+from)
		case from == "":
			parts = append(parts, fallback+" "+value(v))
		default:
			parts = append(parts, from+" "+value(v))
		}
	}
	side(f.WantFrom, f.Want, "want")
	side(f.GotFrom, f.Got, "got")
	return strings.Join(parts, ", ")
}

// FileCheck is one verified file (or archive member) and the checks it
// passed and failed.
type FileCheck struct {
	Path   string   `json:"path"`
	Passed []string `json:"passed,omitempty"`
	Failed []string `json:"failed,omitempty"`
}

// JournalMaxFailures bounds the failures a journaled report keeps: a drill
// of a wrecked replica can find millions, and every later command reads the
// journal.
const JournalMaxFailures = 100

// Journaled is the bounded summary of r that the journal keeps: counts,
// the seed and the first failures, not every file.
func (r *TestReport) Journaled() *TestReport {
	c := *r
	c.Paths, c.Checked = nil, nil
	if len(c.Failures) > JournalMaxFailures {
		c.FailuresOmitted += len(c.Failures) - JournalMaxFailures
		c.Failures = c.Failures[:JournalMaxFailures:JournalMaxFailures]
	}
	return &c
}

// Passed reports whether the evidence counts as proof.
func (r *TestReport) Passed() bool { return r != nil && r.Result == ResultPass }

// TestRequest asks a Prover to test or drill a subvolume's snapshot.
type TestRequest struct {
	Kind      Kind
	Subvolume string
	// Snapshot names the snapshot; Copy is the path of the copy to test
	// (External says whether it is the replica on the drive) and Reference
	// the local snapshot to compare it with as well ("" when none).
	Snapshot  string
	Copy      string
	External  bool
	Location  string
	Reference string
	// SnapshotTime is carried into the report.
	SnapshotTime time.Time
	SampleSize   int
	Seed         int64
	// Scratch is where files are restored (tests) or received (drills).
	Scratch   string
	RTOTarget time.Duration
	// Service is set when Copy is a service archive.
	Service *schema.Service
	// Fetched is how long fetching Copy from an off-site target took. A
	// drill of a fetched copy verifies Copy where it is (the fetch was the
	// restore) and counts Fetched in its RTO.
	Fetched time.Duration
	// Slice of Slices is the coverage slice a test verifies besides its
	// sample (Slices 0: none).
	Slice, Slices int
	// ReferenceLocation is where Reference lies.
	ReferenceLocation string
}

// Prover runs restore tests and drills.
type Prover interface {
	Prove(ctx context.Context, req TestRequest, progress func(int64)) (TestReport, error)
}

// History is what the journal knows about a subvolume's proofs.
type History struct {
	LastTest   *TestReport `json:"lastTest,omitempty"`
	LastPassed *TestReport `json:"lastPassed,omitempty"`
	Tests      int         `json:"tests"`
	Passed     int         `json:"passed"`
	// Verified is the newest snapshot a passing test or drill verified.
	Verified *TestReport `json:"verified,omitempty"`
	// LastSkipped is the newest test that found nothing to prove (an empty
	// snapshot or archive): it is no proof, but it waits out the cadence.
	LastSkipped *TestReport `json:"lastSkipped,omitempty"`
	// LastDrill and LastPassedDrill are the newest drills.
	LastDrill       *TestReport `json:"lastDrill,omitempty"`
	LastPassedDrill *TestReport `json:"lastPassedDrill,omitempty"`
	// LastBackup is the newest successful snapshot or send.
	LastBackup *JournalEntry `json:"lastBackup,omitempty"`
	// LastSend is the newest successful send (its bytes are the size).
	LastSend *JournalEntry `json:"lastSend,omitempty"`
	// AcceptedAgainst is the snapshot a person last accepted the source
	// against (drsync recover --accept-source): it holds until a newer
	// snapshot exists to compare with.
	AcceptedAgainst string `json:"acceptedAgainst,omitempty"`
	// Offsite is the same evidence about the copies on each off-site
	// target, by target name: its sends (LastSend), tests and drills.
	Offsite map[string]*History `json:"offsite,omitempty"`
	// Coverage holds, by copy (location) and slice, the newest
	// verification of that slice.
	Coverage map[string][]*SliceProof `json:"coverage,omitempty"`

	// Passes are the newest passing proofs, one per snapshot, oldest
	// snapshot first: when a newer snapshot's copy fails its test, the
	// verified point falls back to the newest of these still standing.
	Passes []*TestReport `json:"-"`
}

// keptPasses bounds Passes: a fallback further back than this many
// verified snapshots has long been pruned anyway.
const keptPasses = 16

// record folds one journal entry into the history.
func (h *History) Record(e JournalEntry) {
	if e.Action == nil || (e.Phase != PhaseDone && !(e.Phase == PhaseFailed && e.Report != nil)) {
		return
	}
	switch e.Action.Kind {
	case KindAcceptSource:
		h.AcceptedAgainst = e.Action.Path
	case KindSnapshot, KindSend, KindBackup:
		e := e
		h.LastBackup = &e
		if e.Action.Kind == KindSend {
			h.LastSend = &e
		}
	case KindOffsiteSend, KindOffsiteTest, KindOffsiteDrill:
		h.recordOffsite(e)
	case KindTest, KindDrill:
		h.recordProof(e.Report)
	}
}

// recordProof folds a test's or a drill's report into the history.
func (h *History) recordProof(r *TestReport) {
	if r == nil {
		return
	}
	h.recordCoverage(r)
	if r.Result == ResultSkip {
		if r.Kind == KindTest {
			h.LastSkipped = r
		}
		return
	}
	if r.Kind == KindDrill {
		h.LastDrill = r
		if r.Passed() {
			h.LastPassedDrill = r
		}
	} else {
		h.Tests++
		h.LastTest = r
		if r.Passed() {
			h.Passed++
			h.LastPassed = r
		}
	}
	h.Verdict(r)
}

// Verdict updates Verified with a test's or drill's result. A snapshot's
// latest result decides: a snapshot whose copy failed a test is never
// counted as verified, even if another copy of it passed before, until a
// test of it passes again.
func (h *History) Verdict(r *TestReport) {
	kept := h.Passes[:0]
	for _, p := range h.Passes {
		if p.Snapshot != r.Snapshot {
			kept = append(kept, p)
		}
	}
	h.Passes = kept
	if r.Passed() {
		i := len(h.Passes)
		for i > 0 && h.Passes[i-1].SnapshotTime.After(r.SnapshotTime) {
			i--
		}
		h.Passes = append(h.Passes[:i], append([]*TestReport{r}, h.Passes[i:]...)...)
		if len(h.Passes) > keptPasses {
			h.Passes = h.Passes[len(h.Passes)-keptPasses:]
		}
	}
	h.Verified = nil
	if n := len(h.Passes); n > 0 {
		h.Verified = h.Passes[n-1]
	}
}
