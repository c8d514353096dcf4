// Package target is where copies live besides the local snapshots: the
// external drive, a second btrfs host over SSH, an S3 bucket. Each answers
// the same questions behind Target (list copies, receive one, delete one,
// open one for a test), so the planner needs no knowledge of the transport.
// The chain logic of object storage (which stream is full, which manifest
// makes a chain complete, which objects retention may delete) is pure and
// lives here too, table-tested.
package target

import (
	"context"
	"errors"
)

// Snapshot is a local read-only snapshot to copy to a target.
type Snapshot struct {
	Subvolume string
	Name      string
	// Path is the snapshot on the local filesystem.
	Path string
}

// Copy is one copy of a snapshot on a target.
type Copy struct {
	Name string `json:"name"`
	// Complete is false for a half-received replica or an upload whose
	// manifest was never written: never a copy to trust or to keep.
	Complete bool `json:"complete"`
	// Broken says why a copy the target once held completely can no
	// longer be restored (a missing or damaged object in its chain).
	Broken string `json:"broken,omitempty"`
	// Foreign is set for entries drsync cannot prove are its own; they
	// are reported, never deleted.
	Foreign      bool   `json:"foreign,omitempty"`
	ReceivedUUID string `json:"receivedUUID,omitempty"`
	Bytes        int64  `json:"bytes,omitempty"`
	// Chain names the chain of send streams holding the copy (s3).
	Chain string `json:"chain,omitempty"`
}

// Restorable reports whether the copy counts: complete, not broken, ours.
func (c Copy) Restorable() bool { return c.Complete && c.Broken == "" && !c.Foreign }

// Progress is told the bytes moved so far.
type Progress func(bytes int64)

// Target is anywhere snapshots of a subvolume are copied to.
type Target interface {
	// Name is the target's name in the desired state.
	Name() string
	// Probe says whether the target can be reached now. An unreachable
	// target defers its work with a warning; it is not an error.
	Probe(ctx context.Context) error
	// List returns the copies of a subvolume's snapshots, oldest first.
	List(ctx context.Context, subvolume string) ([]Copy, error)
	// Receive copies snap, incrementally from parent when parent names a
	// snapshot the target holds (empty: a full copy), and returns the
	// bytes sent. On failure nothing half-done is left to be taken for a
	// copy.
	Receive(ctx context.Context, snap Snapshot, parent string, progress Progress) (int64, error)
	// Delete removes one copy the target holds.
	Delete(ctx context.Context, subvolume, name string) error
	// Open makes a copy readable on this machine for a restore test or a
	// drill, receiving it under scratch (a directory on btrfs) when it is
	// not already local. The returned path is a read-only tree; cleanup
	// removes what Open created.
	Open(ctx context.Context, subvolume, name, scratch string) (path string, cleanup func() error, err error)
}

// ErrUnreachable marks a target that cannot be reached: its work is
// deferred, not failed.
var ErrUnreachable = errors.New("target unreachable")

// ChainStore is object storage's view of a subvolume's chains of send
// streams (see Analyze).
type ChainStore interface {
	Chains(ctx context.Context, subvolume string) ([]Chain, []Object, error)
	// Cleanup removes what interrupted uploads left and returns it.
	Cleanup(ctx context.Context, subvolume string) ([]string, error)
}

// ArchiveStore holds service archives, one copy per archive, each with a
// record written after the copy was checked.
type ArchiveStore interface {
	// Archives lists a service's archives and the objects no record lists.
	Archives(ctx context.Context, service string) ([]Copy, []Object, error)
	// UploadArchive uploads the archive at path (with its .sha256 beside
	// it) and returns the bytes stored.
	UploadArchive(ctx context.Context, service, path string, progress Progress) (int64, error)
	DeleteArchive(ctx context.Context, service, archive string) error
	// OpenArchive downloads an archive into dir with its checksum file,
	// both checked, and returns its path.
	OpenArchive(ctx context.Context, service, archive, dir string) (string, error)
	// CleanupArchives removes what interrupted uploads left.
	CleanupArchives(ctx context.Context, service string) ([]string, error)
}
