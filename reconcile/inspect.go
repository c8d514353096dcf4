package reconcile

import (
	"path/filepath"

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
	h, err := in.InspectSource(source, ref)
	h.Reference = ref
	if err != nil {
		h.Error = err.Error()
	}
	if n := len(ss.Local); n >= 2 && err == nil {
		h.Previous = filepath.Join(localDir, ss.Local[n-2].Name)
		prev, err := in.InspectSource(h.Previous, "")
		if err != nil {
			h.Error = err.Error()
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
