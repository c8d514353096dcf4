package recovery

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// OffsiteCopy is one restorable copy of a snapshot on an off-site target
// (runbook DR-004: the machine and the drive are gone, only the off-site
// copies are left).
type OffsiteCopy struct {
	Target string
	Name   string
	Time   time.Time
}

// OffsiteCopies maps a subvolume to its restorable off-site copies.
type OffsiteCopies map[string][]OffsiteCopy

// NeedsOffsite says whether a recovery of the subvolume reads its off-site
// targets: when asked to (--from-target), or when nothing on this machine
// or a present drive can restore it. Off-site targets are observed only
// then, so a recovery from local copies never waits for a network.
func NeedsOffsite(d *schema.Desired, o *model.Observed, name string, req Request) bool {
	s := d.Subvolumes[name]
	if s == nil || len(s.Offsite) == 0 {
		return false
	}
	return req.FromTarget != "" || len(copies(d, o, s)) == 0
}

// candidates lists the copies a recovery may read, oldest first: the
// machine's and the drive's, then off-site copies of snapshots neither
// holds; with FromTarget, only that target's copies.
func candidates(in Input, req Request, s *schema.Subvolume) ([]copyRef, error) {
	if req.FromTarget != "" {
		if _, ok := s.Offsite[req.FromTarget]; !ok {
			return nil, fmt.Errorf("--from-target %s: %s is not sent to that target (its targets: %v)", req.FromTarget, s.Name, offsiteNames(s))
		}
	}
	var all []copyRef
	if req.FromTarget == "" {
		all = copies(in.Desired, in.Observed, s)
	}
	held := map[string]bool{}
	for _, c := range all {
		held[c.Name] = true
	}
	for _, o := range in.Offsite[s.Name] {
		if held[o.Name] || req.FromTarget != "" && o.Target != req.FromTarget {
			continue
		}
		held[o.Name] = true // one target is enough: the first listed
		all = append(all, copyRef{Name: o.Name, Time: o.Time, Location: o.Target, Target: o.Target,
			Path: o.Target + ":" + s.Name + "/" + o.Name})
	}
	slices.SortStableFunc(all, func(a, b copyRef) int { return a.Time.Compare(b.Time) })
	if req.FromTarget != "" && len(all) == 0 {
		return nil, fmt.Errorf("--from-target %s holds no restorable copy of %s", req.FromTarget, s.Name)
	}
	return all, nil
}

func offsiteNames(s *schema.Subvolume) []string {
	var out []string
	for name := range s.Offsite {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// OffsiteSource is what a recovery needs of an off-site target: fetch one
// copy into a directory on btrfs (target.Target's Open: for S3 the chain is
// downloaded, each stream's SHA-256 checked, decrypted and received; over
// ssh the replica is sent back).
type OffsiteSource interface {
	Open(ctx context.Context, subvolume, name, scratch string) (path string, cleanup func() error, err error)
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
