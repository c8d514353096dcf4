package model

import (
	"slices"
	"sort"
	"time"

	"github.com/drsync/drsync/schema"
)

// Kind is what an action does.
type Kind string

const (
	KindRepair   Kind = "repair"   // delete a half-received replica
	KindSnapshot Kind = "snapshot" // take a read-only snapshot
	KindBackup   Kind = "backup"   // archive a service's data
	KindSend     Kind = "send"     // copy a snapshot or an archive to the external drive
	KindTest     Kind = "test"     // restore a sample of files and verify them
	KindDrill    Kind = "drill"    // restore a whole replica and time it
	KindPrune    Kind = "prune"    // delete a copy retention no longer keeps
	KindWrite    Kind = "write"    // write a generated file

	KindOffsiteSend    Kind = "offsite-send"    // copy a snapshot to an off-site target
	KindOffsitePrune   Kind = "offsite-prune"   // delete an off-site copy (a whole chain on S3)
	KindOffsiteCleanup Kind = "offsite-cleanup" // remove what an interrupted off-site transfer left
	KindOffsiteTest    Kind = "offsite-test"    // fetch an off-site copy and restore-test it
	KindOffsiteDrill   Kind = "offsite-drill"   // fetch a whole off-site copy, verify it, time it (DR-004)
)

// PlanVersion is the version of the plan's JSON (and of the actions in
// it). A saved plan of another version is refused: plan again.
const PlanVersion = 2

// Action is one step of a plan. The header (kind, owner, where, what, why)
// is shared by every kind; the rest is the payload of its kind, exactly
// one of the pointers below, captured at plan time so apply needs nothing
// else: not the desired state, not another observation.
type Action struct {
	Kind Kind `json:"kind"`
	// Subvolume owns the action: a subvolume or a service ("" for a file).
	Subvolume string `json:"subvolume"`
	// Location is the location the action writes to, deletes from or
	// reads (tests and drills).
	Location string `json:"location"`
	// Snapshot names the snapshot or archive acted on; Path is where it
	// is (created, deleted, received or read).
	Snapshot string `json:"snapshot"`
	Path     string `json:"path"`
	// External says the action reads or writes the external drive, and
	// Drive is that drive as the plan found it: apply checks it is still
	// there, and still the same filesystem, right before the action.
	External bool      `json:"external,omitempty"`
	Drive    *DriveRef `json:"drive,omitempty"`
	// Reason words Why, the structured reason (see Reason.Text).
	Reason string `json:"reason"`
	Why    Reason `json:"why"`

	Take   *TakeSnapshot  `json:"take,omitempty"`   // KindSnapshot
	Backup *BackupService `json:"backup,omitempty"` // KindBackup
	Send   *SendCopy      `json:"send,omitempty"`   // KindSend
	Remove *RemoveCopy    `json:"remove,omitempty"` // KindPrune, KindRepair
	Proof  *ProofSpec     `json:"proof,omitempty"`  // KindTest, KindDrill
	Write  *WriteSpec     `json:"write,omitempty"`  // KindWrite
	// Recover is a recovery step's payload (KindRecover, journaled by
	// drsync recover, never planned by Compute; see recover_kind.go).
	Recover *RecoverStep `json:"recover,omitempty"`

	Offsite *OffsiteSpec `json:"offsite,omitempty"` // KindOffsiteSend, KindOffsitePrune, KindOffsiteCleanup
}

// DriveRef identifies an external drive: what is mounted at Mount must
// be the filesystem UUID (when one is declared) on the declared LUKS
// device (when one is declared).
type DriveRef struct {
	Mount string       `json:"mount"`
	UUID  string       `json:"uuid,omitempty"`
	LUKS  *schema.LUKS `json:"luks,omitempty"`
}

// Location is the drive as Storage.Probe takes it.
func (r *DriveRef) Location() schema.Location {
	return schema.Location{External: true, Mount: r.Mount, UUID: r.UUID, LUKS: r.LUKS}
}

// TakeSnapshot is a snapshot's payload: the subvolume it is taken of.
type TakeSnapshot struct {
	Source string `json:"source"`
}

// BackupService is a service backup's payload: the service as declared.
type BackupService struct {
	Service *schema.Service `json:"service"`
}

// SendCopy is a send's payload: the local copy sent and, for an
// incremental send, the parent it is relative to. Archive says the copy
// is a service archive (checksummed files) rather than a btrfs snapshot.
type SendCopy struct {
	From    string `json:"from"`
	Parent  string `json:"parent,omitempty"`
	Archive bool   `json:"archive,omitempty"`
}

// RemoveCopy is a prune's or a repair's payload. Archive says the copy is
// a service archive, deleted with its checksum.
type RemoveCopy struct {
	Archive bool `json:"archive,omitempty"`
}

// ProofSpec is a test's or a drill's payload.
type ProofSpec struct {
	// SnapshotTime is when the tested copy was taken (carried into the
	// evidence: the newest verified point).
	SnapshotTime time.Time `json:"snapshotTime,omitzero"`
	// Reference is the local snapshot a replica is also compared with.
	Reference string `json:"reference,omitempty"`
	// SampleSize is the number of files a test restores, and Seed picks
	// them (0: a fresh seed at apply time, recorded in the evidence).
	SampleSize int   `json:"sampleSize,omitempty"`
	Seed       int64 `json:"seed,omitempty"`
	// Scratch is where a test or drill restores to.
	Scratch string `json:"scratch"`
	// RTOTarget is a drill's target.
	RTOTarget schema.Duration `json:"rtoTarget,omitzero"`
	// Service is set when the copy is a service archive.
	Service *schema.Service `json:"service,omitempty"`
	// Slice of Slices is the coverage slice a test verifies (Slices 0:
	// the tier declares no coverage).
	Slice  int `json:"slice,omitempty"`
	Slices int `json:"slices,omitempty"`
	// ReferenceLocation is where Reference lies (set with a slice).
	ReferenceLocation string `json:"referenceLocation,omitempty"`
}

// WriteSpec is a generated file's payload: its new content, and the
// unified diff against the file on disk ("" for a new file).
// The journal keeps only the content's SHA-256 (Digest) and Size.
type WriteSpec struct {
	Content string `json:"content"`
	Diff    string `json:"diff,omitempty"`
	Digest  string `json:"digest,omitempty"`
	Size    int64  `json:"size,omitempty"`
}

// kindSpec is how the plan shows a kind (apply's executors say how it runs).
type kindSpec struct {
	// symbol marks it in the plan text, after Terraform: + creates,
	// - destroys, -/+ replaces, ~ checks without changing anything but
	// the evidence.
	symbol string
	// target is what the plan text shows it acting on.
	target func(Action) string
}

// How to add an action kind (recover, an off-site send or prune, a
// service drill): add its Kind above, a payload struct with a pointer in
// Action, its place in kindOrder and its kindSpec in kinds, its executor
// in reconcile's executors, and a planner that emits it. Apply dispatches on the kind alone, so the journal, the
// plan's text and JSON, the guard and the pipeline need no change.

// kindOrder is the order apply runs kinds in, and the plan summary lists
// them in: repairs, snapshots and backups, sends, then the proofs (which
// test what was just sent), then prunes (which a failed proof of the same
// owner holds back), then generated files.
var kindOrder = []Kind{KindRepair, KindOffsiteCleanup, KindSnapshot, KindBackup, KindSend, KindOffsiteSend,
	KindTest, KindDrill, KindOffsiteTest, KindOffsiteDrill, KindPrune, KindOffsitePrune, KindWrite}

var kinds = map[Kind]kindSpec{
	KindRepair:   {symbol: "-/+", target: on},
	KindSnapshot: {symbol: "+", target: on},
	KindBackup:   {symbol: "+", target: on},
	KindSend:     {symbol: "+", target: func(a Action) string { return a.Snapshot + " → " + a.Location }},
	KindTest:     {symbol: "~", target: from},
	KindDrill:    {symbol: "~", target: from},
	KindPrune:    {symbol: "-", target: on},
	KindWrite:    {symbol: "+", target: func(a Action) string { return a.Path }},

	KindOffsiteCleanup: {symbol: "-/+", target: offsiteOn},
	KindOffsiteSend:    {symbol: "+", target: offsiteOn},
	KindOffsitePrune:   {symbol: "-", target: offsiteOn},
	KindOffsiteTest:    {symbol: "~", target: from},
	KindOffsiteDrill:   {symbol: "~", target: from},
}

func on(a Action) string   { return a.Snapshot + " on " + a.Location }
func from(a Action) string { return a.Snapshot + " from " + a.Location }

func SortActions(a []Action) {
	sort.SliceStable(a, func(i, j int) bool {
		return slices.Index(kindOrder, a[i].Kind) < slices.Index(kindOrder, a[j].Kind)
	})
}
