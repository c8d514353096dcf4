package recovery

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// OffsiteCopy is one restorable copy on an off-site target: a snapshot of
// a subvolume, or an archive of a service (runbook DR-004: the machine and
// the drive are gone, only the off-site copies are left).
type OffsiteCopy struct {
	Target string
	Name   string
	Time   time.Time
}

// OffsiteCopies maps a subvolume or service to its restorable off-site
// copies.
type OffsiteCopies map[string][]OffsiteCopy

// OffsiteSource is what a recovery needs of an off-site target: fetch one
// snapshot into a directory on btrfs (target.Target's Open: for S3 the
// chain is downloaded, each stream's SHA-256 checked, decrypted and
// received; over ssh the replica is sent back).
type OffsiteSource interface {
	Open(ctx context.Context, subvolume, name, scratch string) (path string, cleanup func() error, err error)
}

// ArchiveSource is an OffsiteSource that also holds service archives
// (S3): one is downloaded into a directory with its .sha256, both checked.
type ArchiveSource interface {
	OpenArchive(ctx context.Context, service, archive, dir string) (string, error)
}

// StepFetch downloads a service's archive from an off-site target into
// its archive directory, checked, before it is restored like a local one.
const StepFetch Step = "fetch"

// NeedsOffsite says whether a recovery of the subvolume or service reads
// its off-site targets: when asked to (--from-target), or when nothing on
// this machine or a present drive can restore it. Off-site targets are
// observed only then, so a recovery from local copies never waits for a
// network.
func NeedsOffsite(d *schema.Desired, o *model.Observed, name string, req Request) bool {
	if svc := d.Services[name]; svc != nil {
		return len(svc.Offsite) > 0 && (req.FromTarget != "" || len(archiveCopies(d, o, svc)) == 0)
	}
	s := d.Subvolumes[name]
	if s == nil || len(s.Offsite) == 0 {
		return false
	}
	return req.FromTarget != "" || len(copies(d, o, s)) == 0
}

// withOffsite adds a component's off-site copies (at the path where each is
// read or fetched to) to its local ones, oldest first: only those of
// snapshots or archives nothing local holds; with FromTarget, only that
// target's copies. targets are the ones the component declares.
func withOffsite(local []copyRef, remote []OffsiteCopy, req Request, name string, targets []string, at func(OffsiteCopy) string) ([]copyRef, error) {
	if req.FromTarget != "" && !slices.Contains(targets, req.FromTarget) {
		return nil, fmt.Errorf("--from-target %s: %s is not sent to that target (its targets: %v)", req.FromTarget, name, targets)
	}
	var all []copyRef
	if req.FromTarget == "" {
		all = local
	}
	held := map[string]bool{}
	for _, c := range all {
		held[c.Name] = true
	}
	for _, o := range remote {
		if held[o.Name] || req.FromTarget != "" && o.Target != req.FromTarget {
			continue
		}
		held[o.Name] = true // one target is enough: the first listed
		all = append(all, copyRef{Name: o.Name, Time: o.Time, Location: o.Target, Target: o.Target, Path: at(o)})
	}
	slices.SortStableFunc(all, func(a, b copyRef) int { return a.Time.Compare(b.Time) })
	if req.FromTarget != "" && len(all) == 0 {
		return nil, fmt.Errorf("--from-target %s holds no restorable copy of %s", req.FromTarget, name)
	}
	return all, nil
}

// candidates lists the snapshots a subvolume's recovery may read.
func candidates(in Input, req Request, s *schema.Subvolume) ([]copyRef, error) {
	return withOffsite(copies(in.Desired, in.Observed, s), in.Offsite[s.Name], req, s.Name, slices.Sorted(maps.Keys(s.Offsite)),
		func(o OffsiteCopy) string { return o.Target + ":" + s.Name + "/" + o.Name })
}

// archiveCandidates lists the archives a service's recovery may read; an
// off-site one is read where it is fetched to, its archive directory.
func archiveCandidates(in Input, req Request, svc *schema.Service) ([]copyRef, error) {
	local := archiveCopies(in.Desired, in.Observed, svc)
	all, err := withOffsite(local, in.Offsite[svc.Name], req, svc.Name, slices.Sorted(maps.Keys(svc.Offsite)),
		func(o OffsiteCopy) string { return filepath.Join(in.Desired.ArchiveDir(svc), o.Name) })
	if err != nil || req.FromTarget == "" {
		return all, err
	}
	for _, c := range all {
		if i := slices.IndexFunc(local, func(l copyRef) bool { return l.Name == c.Name && !l.External }); i >= 0 {
			return nil, fmt.Errorf("--from-target %s: %s is here already (%s): recover it without --from-target", req.FromTarget, c.Name, local[i].Path)
		}
	}
	return all, nil
}

// fetch receives the recovery's off-site copy at r.Receive, read-only.
func (x *executor) fetch(r Recovery) error {
	src := x.env.Offsite[r.Offsite]
	if src == nil {
		return fmt.Errorf("off-site target %s was not opened", r.Offsite)
	}
	dir := filepath.Dir(r.Receive)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("receive directory: %w", err)
	}
	got, _, err := src.Open(x.ctx, r.Subvolume, r.Snapshot, dir)
	if err != nil {
		return err
	}
	if got != r.Receive {
		return fmt.Errorf("%s fetched %s to %s, not %s", r.Offsite, r.Snapshot, got, r.Receive)
	}
	return nil
}

// fetchArchive downloads a service's archive from its off-site target to
// r.Copy with its .sha256 (the stored object's SHA-256 and the archive's
// own checked; nothing is left on a mismatch). It stays there as a local
// archive once fetched.
func (x *executor) fetchArchive(r ServiceRecovery) error {
	src, ok := x.env.Offsite[r.Offsite].(ArchiveSource)
	if !ok {
		return fmt.Errorf("off-site target %s was not opened or holds no service archives", r.Offsite)
	}
	dir := filepath.Dir(r.Copy)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("archive directory: %w", err)
	}
	got, err := src.OpenArchive(x.ctx, r.Service, r.Archive, dir)
	if err != nil {
		return err
	}
	if got != r.Copy {
		return fmt.Errorf("%s fetched %s to %s, not %s", r.Offsite, r.Archive, got, r.Copy)
	}
	return nil
}
