package planner

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner/offsite"
	"github.com/drsync/drsync/render"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
)

// RenderInput gathers what the generated files say about the machine:
// counts, ages, the journal's backups, tests, drills and runs.
func RenderInput(d *schema.Desired, o *model.Observed, now time.Time) view.Input {
	in := view.Input{Desired: d, Now: now, Subvolumes: map[string]view.SubvolumeStatus{},
		Reconcile:    view.ReconcileStatus{Runs: runsByStatus(o.Runs), LastRun: o.LastRun.Started, LastResult: string(o.LastRun.Result)},
		ExternalSeen: o.DriveSeen, Rehearsals: rehearsalEvidence(o)}
	if !o.LastRun.Ended.IsZero() {
		in.Reconcile.LastDuration = o.LastRun.Ended.Sub(o.LastRun.Started)
	}
	for _, name := range d.SubvolumeNames() {
		st, h := o.Subvolumes[name], o.History[name]
		var s view.SubvolumeStatus
		if st != nil {
			replicas := model.Replicas(st.External)
			s.LocalCount, s.ExternalCount = len(st.Local), len(replicas)
			s.NewestLocal, s.NewestExternal = model.NewestTime(current(st.Local, now)), model.NewestTime(current(replicas, now))
		}
		fillEvidence(&s, h)
		s.Offsite = offsite.Evidence(name, offsite.SubvolumeTargets(d, name), h, o, now)
		s.Coverage = CoverageEvidence(d, name, st, h, now)
		if f := o.SendFailing[name]; f != nil {
			s.SendFailingSince = f.Since
		}
		if h != nil {
			if send := h.LastSend; send != nil {
				s.SizeBytes = send.Bytes
				// The drive may be away: its newest replica is the last one sent.
				if s.NewestExternal.IsZero() {
					if stamp, ok := snapname.Parse(name, send.Action.Snapshot, now.Location()); ok {
						s.NewestExternal = stamp.Time
					}
				}
			}
		}
		in.Subvolumes[name] = s
	}
	// Services are tracked like subvolumes whose only copies are local.
	for _, name := range d.ServiceNames() {
		var s view.SubvolumeStatus
		if st := o.Services[name]; st != nil {
			s.LocalCount, s.NewestLocal = len(st.Archives), model.NewestTime(current(st.Archives, now))
			s.ExternalCount, s.NewestExternal = len(st.External), model.NewestTime(current(st.External, now))
		}
		fillEvidence(&s, o.History[name])
		s.Offsite = offsite.Evidence(name, offsite.ServiceTargets(d, name), o.History[name], o, now)
		s.Coverage = ArchiveCoverageEvidence(d, name, o.Services[name], o.History[name], now)
		in.Subvolumes[name] = s
	}
	return in
}

// runsByStatus is the runs on record by status, as the metrics label them.
func runsByStatus(runs map[model.Status]int) map[string]int {
	if runs == nil {
		return nil
	}
	out := make(map[string]int, len(runs))
	for st, n := range runs {
		out[string(st)] = n
	}
	return out
}

// fillEvidence copies the journal's backups, tests and drills into s.
func fillEvidence(s *view.SubvolumeStatus, h *model.History) {
	if h == nil {
		return
	}
	if b := h.LastBackup; b != nil {
		s.LastSuccess, s.LastDuration = b.Time, humane.Seconds(b.Seconds)
	}
	if t := h.LastTest; t != nil {
		s.Test = &view.TestEvidence{Time: t.Started, Passed: t.Passed(), Duration: humane.Seconds(t.Seconds), Files: t.Files, Snapshot: t.Snapshot}
	}
	s.TestsRun, s.TestsPassed = h.Tests, h.Passed
	// The real RPO counts every verified copy, off-site ones too.
	if v := h.NewestVerified(); v != nil {
		s.Verified = v.SnapshotTime
	}
	if dr := h.LastDrill; dr != nil {
		s.Drill = &view.DrillEvidence{Time: dr.Started, Passed: dr.Passed(), Duration: humane.Seconds(dr.Seconds),
			Restore: humane.Seconds(dr.RestoreSeconds), Verify: humane.Seconds(dr.VerifySeconds), Bytes: dr.Bytes, Snapshot: dr.Snapshot}
	}
}

// GeneratedFiles renders the files plan and apply manage as resources:
// every enabled generated file except the metrics textfile, which changes
// with every run and is rewritten after each one instead.
func GeneratedFiles(d *schema.Desired, o *model.Observed, now time.Time) (map[string][]byte, error) {
	files, err := render.PlannedFiles(RenderInput(d, o, now))
	if err != nil {
		return nil, fmt.Errorf("rendering generated files: %w", err)
	}
	return files, nil
}

// planFiles adds a write for each generated file whose content differs,
// with a unified diff against what is on disk.
func planFiles(p *model.Plan, files map[string][]byte, current, refused map[string]string) {
	paths := make([]string, 0, len(files))
	for path := range files {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		if why, ok := refused[path]; ok {
			p.Warnings = append(p.Warnings, "generated file left alone: "+why)
			continue
		}
		want := string(files[path])
		have, exists := current[path]
		if exists && have == want {
			continue
		}
		a := model.Action{Kind: model.KindWrite, Location: "generated", Snapshot: filepath.Base(path), Path: path, Write: &model.WriteSpec{Content: want}}
		if !exists {
			a.Because(model.Reason{Code: model.BecauseNewFile, Detail: fmt.Sprintf("%d lines", strings.Count(want, "\n"))})
		} else {
			a.Write.Diff = unifiedDiff(path, have, want)
			a.Because(model.Reason{Code: model.BecauseFileDiffers, Detail: diffStat(a.Write.Diff)})
		}
		p.Files = append(p.Files, a)
	}
}

func unifiedDiff(path, old, new string) string {
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(old), B: difflib.SplitLines(new),
		FromFile: path + " (on disk)", ToFile: path + " (desired)", Context: 2,
	})
	if err != nil {
		return ""
	}
	return text
}

func diffStat(diff string) string {
	add, del := 0, 0
	for _, l := range strings.Split(diff, "\n") {
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
		case strings.HasPrefix(l, "+"):
			add++
		case strings.HasPrefix(l, "-"):
			del++
		}
	}
	return fmt.Sprintf("+%d -%d lines", add, del)
}
