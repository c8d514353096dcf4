package reconcile

import (
	"path/filepath"
	"sync"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/model/health"
	"github.com/drsync/drsync/schema"
)

// inspectSource observes the health of a present source against its
// newest snapshot, locally or on the drive.
func inspectSource(st model.Storage, source, localDir, extDir string, ss *model.SubvolumeState) *health.Source {
	in, ok := st.(health.Inspector)
	if !ok || ss.SourceError != "" {
		return nil
	}
	ref := ""
	if n := len(ss.Local); n > 0 {
		ref = filepath.Join(localDir, ss.Local[n-1].Name)
	} else if r := model.Replicas(ss.External); len(r) > 0 {
		ref = filepath.Join(extDir, r[len(r)-1].Name)
	}
	// The snapshot before the newest is counted alongside (the counts are
	// cold-cache disk reads that overlap).
	previous := ""
	var prev health.Source
	var prevErr error
	var counted sync.WaitGroup
	if n := len(ss.Local); n >= 2 {
		previous = filepath.Join(localDir, ss.Local[n-2].Name)
		counted.Go(func() { prev, prevErr = in.InspectSource(previous, "") })
	}
	h, err := in.InspectSource(source, ref)
	counted.Wait()
	h.Reference = ref
	if err != nil {
		h.Error = err.Error()
		return &h
	}
	if previous != "" {
		h.Previous = previous
		if prevErr != nil {
			h.Error = prevErr.Error()
		}
		h.PreviousEntries, h.PreviousBytes = prev.Entries, prev.Bytes
	}
	return &h
}

// externalDir is where s's replicas are ("" without a drive).
func externalDir(d *schema.Desired, s *schema.Subvolume) string {
	if s.External == nil {
		return ""
	}
	return d.SnapshotDir(s.External.Location, s.Name)
}
