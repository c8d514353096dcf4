// Package model holds what reconcile's packages share: the observation of
// the machine (Observed, and the Storage it is read through), the plan and
// its typed actions and reasons, and the journal's entries and evidence.
// It is data and the few rules that belong to the data; planner computes
// plans, journal keeps the record and reconcile carries plans out.
package model

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/drsync/drsync/reconcile/model/health"
	"github.com/drsync/drsync/rehearse/evidence"
	"github.com/drsync/drsync/schema"
)

// Observed is everything the planner knows about the machine.
type Observed struct {
	// Drives says, per external location, whether its drive is present.
	Drives map[string]Drive `json:"drives"`
	// Subvolumes holds the observation of each declared subvolume.
	Subvolumes map[string]*SubvolumeState `json:"subvolumes"`
	// LastSent maps a subvolume to its last snapshot sent successfully,
	// from the journal: the parent to keep while the drive is away.
	LastSent map[string]string `json:"lastSent,omitempty"`
	// SendFailing holds, by subvolume, the sends that failed since its
	// last successful one, from the journal.
	SendFailing map[string]*SendFailure `json:"sendFailing,omitempty"`
	// Interrupted lists actions a previous apply started and never finished.
	Interrupted []JournalEntry `json:"interrupted,omitempty"`
	// JournalMalformed names the journal lines skipped as unreadable.
	JournalMalformed []string `json:"journalMalformed,omitempty"`
	// History is each subvolume's journaled backups, tests and drills.
	History map[string]*History `json:"history,omitempty"`
	// Runs, LastRun and DriveSeen summarise past applies, for metrics.
	Runs      map[Status]int       `json:"runs,omitempty"`
	LastRun   RunSummary           `json:"lastRun,omitzero"`
	DriveSeen map[string]time.Time `json:"driveSeen,omitempty"`
	// Services holds each declared service's archives.
	Services map[string]*ServiceState `json:"services,omitempty"`
	// Files holds the generated files as they are on disk, by path (a
	// missing file is absent). Nil means generated files are not managed
	// in this observation.
	Files map[string]string `json:"files,omitempty"`
	// Offsite holds each off-site target as observed, by name.
	Offsite map[string]*OffsiteState `json:"offsite,omitempty"`
	// RefusedFiles says why a generated file was not read: a symlink, or
	// not a regular file. It is reported and left alone.
	RefusedFiles map[string]string `json:"refusedFiles,omitempty"`
	// Rehearsals are the runbooks' newest rehearsals, by runbook.
	Rehearsals map[string]evidence.Latest `json:"rehearsals,omitempty"`
}

// Drive is an external location's drive as observed.
type Drive struct {
	Present bool   `json:"present"`
	UUID    string `json:"uuid,omitempty"`
	// Reason says why the drive counts as absent, or how it was recognised.
	Reason string `json:"reason"`
}

// SubvolumeState is one declared subvolume as observed.
type SubvolumeState struct {
	// SourceError is set when the source is not a usable subvolume;
	// SourceMissing when it does not exist at all.
	SourceError   string `json:"sourceError,omitempty"`
	SourceMissing bool   `json:"sourceMissing,omitempty"`
	// Health compares a present source with its newest snapshot (nil:
	// not inspected).
	Health *health.Source `json:"health,omitempty"`
	// Local are the snapshots in the local snapshot directory that carry
	// drsync's (btrbk's) naming for this subvolume, oldest first.
	Local []Snapshot `json:"local"`
	// External are the replicas on the external drive, oldest first; nil
	// when the drive is absent or none is declared.
	External []Snapshot `json:"external,omitempty"`
	// Foreign are entries of the snapshot directories that drsync leaves
	// alone: other names, plain directories, writable subvolumes.
	Foreign []string `json:"foreign,omitempty"`
	// Refused says why a snapshot directory was not even listed: it is
	// reached through a symlink or lies on another filesystem.
	Refused []string `json:"refused,omitempty"`
	// Coverage counts the slices of the newest local snapshot and replica
	// when the tier declares coverage.
	Coverage []CopySlices `json:"coverage,omitempty"`
}

// Snapshot is a read-only subvolume named <subvolume>.<timestamp>.
type Snapshot struct {
	Name         string    `json:"name"`
	Time         time.Time `json:"time"`
	HasTime      bool      `json:"hasTime"`
	Seq          int       `json:"seq,omitempty"`
	UUID         string    `json:"uuid,omitempty"`
	ParentUUID   string    `json:"parentUUID,omitempty"`
	ReceivedUUID string    `json:"receivedUUID,omitempty"`
	ReadOnly     bool      `json:"readOnly"`
}

// ServiceState is one declared service as observed: its archives named
// <service>.<timestamp>.tar.gz, oldest first. Archives without a checksum
// cannot be verified and are left alone, as are other entries.
type ServiceState struct {
	Archives []Snapshot `json:"archives"`
	// External are the copies on the external drive (nil: absent or none
	// declared).
	External  []Snapshot `json:"external,omitempty"`
	Unchecked []string   `json:"unchecked,omitempty"`
	Foreign   []string   `json:"foreign,omitempty"`
	// Coverage is the newest archive of the copy restore tests read (the
	// drive's when a drive copy is declared), as one slice of one file,
	// when the tier declares coverage.
	Coverage []CopySlices `json:"coverage,omitempty"`
}

// ArchiveEntry is a file of a service's archive directory.
type ArchiveEntry struct {
	Name        string
	HasChecksum bool
}

// ServiceStore takes, lists and deletes service archives.
type ServiceStore interface {
	// ListArchives returns the archives in dir (missing: empty).
	ListArchives(dir string) ([]ArchiveEntry, error)
	// Backup takes a consistent copy of the service's data into the
	// archive dest, atomically, and returns its size.
	Backup(ctx context.Context, svc *schema.Service, dest string) (int64, error)
	// CopyArchive copies an archive and its checksum into destDir,
	// verified, and returns the bytes copied.
	CopyArchive(ctx context.Context, src, destDir string) (int64, error)
	// DeleteArchive removes an archive and its checksum.
	DeleteArchive(path string) error
}

// Entry is a directory entry of a snapshot directory as a provider sees it.
type Entry struct {
	Name         string
	Subvolume    bool
	UUID         string
	ParentUUID   string
	ReceivedUUID string
	ReadOnly     bool
}

// Storage is what the planner's actions need from the machine. The btrfs
// provider implements it; so can a plain-directory stand-in.
type Storage interface {
	// List returns the entries of a snapshot directory (missing: empty).
	List(dir string) ([]Entry, error)
	// CheckSource reports why path cannot be snapshotted, or nil.
	CheckSource(path string) error
	// Probe reports whether the external drive loc is mounted at its mount
	// point and is the declared filesystem (UUID) on the declared encrypted
	// device (LUKS).
	Probe(loc schema.Location) Drive
	// Snapshot creates a read-only snapshot of source at dest.
	Snapshot(ctx context.Context, source, dest string) error
	// Send replicates snapshot into destDir, incrementally from parent when
	// parent is not empty, and returns the bytes of the stream.
	Send(ctx context.Context, snapshot, parent, destDir string, progress func(int64)) (int64, error)
	// Delete removes a snapshot.
	Delete(ctx context.Context, path string) error
}

// Fingerprint identifies an observation, so a saved plan can refuse to run
// against a machine that changed since.
//
// It hashes one subvolume's JSON at a time, in name order: the encoder
// buffers whatever it encodes, and the whole observation of 100,000
// snapshots is tens of MiB. The snapshot lists, nearly all of that, are
// hashed field by field (appendSnapshots): through reflection they cost
// more than the rest of the plan's bookkeeping.
func (o *Observed) Fingerprint() string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	rest := *o.withoutCounts()
	subvolumes := rest.Subvolumes
	rest.Subvolumes = nil
	if err := enc.Encode(&rest); err != nil {
		panic(err) // plain data: cannot fail
	}
	var buf []byte
	for _, name := range slices.Sorted(maps.Keys(subvolumes)) {
		st := subvolumes[name]
		if err := enc.Encode(name); err != nil {
			panic(err)
		}
		if st == nil {
			continue
		}
		others := *st
		others.Local, others.External = nil, nil
		if err := enc.Encode(&others); err != nil {
			panic(err)
		}
		buf = appendSnapshots(buf[:0], st.Local)
		buf = appendSnapshots(buf, st.External)
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// appendSnapshots appends every field of every snapshot to b, each
// length-prefixed so no two lists encode alike.
func appendSnapshots(b []byte, snaps []Snapshot) []byte {
	str := func(b []byte, s string) []byte { return append(binary.AppendUvarint(b, uint64(len(s))), s...) }
	flag := func(b []byte, v bool) []byte {
		if v {
			return append(b, 1)
		}
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(snaps)))
	for _, s := range snaps {
		b = str(b, s.Name)
		b = s.Time.AppendFormat(b, time.RFC3339Nano)
		b = flag(b, s.HasTime)
		b = binary.AppendVarint(b, int64(s.Seq))
		b = str(b, s.UUID)
		b = str(b, s.ParentUUID)
		b = str(b, s.ReceivedUUID)
		b = flag(b, s.ReadOnly)
	}
	return b
}

// withoutCounts is o with each source's health reduced to its verdict: a
// live source's entry count changes all the time, and only whether it
// looks destroyed changes a plan.
func (o *Observed) withoutCounts() *Observed {
	c := *o
	c.Subvolumes = make(map[string]*SubvolumeState, len(o.Subvolumes))
	for name, st := range o.Subvolumes {
		if st == nil || st.Health == nil {
			c.Subvolumes[name] = st
			continue
		}
		s := *st
		s.Health = &health.Source{Error: s.Disaster()}
		c.Subvolumes[name] = &s
	}
	return &c
}

// ArchiveSuffix ends every service archive's name.
const ArchiveSuffix = ".tar.gz"
