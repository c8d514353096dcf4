package prove

import (
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/drsync/drsync/providers/archive"
	"github.com/drsync/drsync/providers/services"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/verify"
)

// The sides a reported value was read from.
const (
	sideLocal        = "local snapshot"
	sideReplica      = "replica"
	sideRestored     = "restored copy"
	sideArchive      = "archive"
	sideChecksumFile = "checksum file"
)

// testedSide names the copy a test or drill read.
func testedSide(req model.TestRequest) string {
	if req.External {
		return sideReplica
	}
	return sideLocal
}

// sampleFailure turns a verify.TestFiles mismatch into a report failure
// naming its sides: plain checks compare the tested copy with what was
// restored from it, "reference:" checks the local snapshot with the
// replica; "read" and "missing" concern one side only.
func sampleFailure(m verify.Mismatch, tested string) model.Failure {
	f := model.Failure{Path: m.Rel, Check: m.Check, Want: m.Want, Got: m.Got}
	check, reference := strings.CutPrefix(m.Check, "reference:")
	oneSided := check == "read" || check == "missing"
	switch {
	case reference && oneSided:
		f.GotFrom = sideLocal
	case reference:
		f.WantFrom, f.GotFrom = sideLocal, tested
	case oneSided:
		f.GotFrom = tested
	case check == "restore":
		f.GotFrom = sideRestored
	default:
		f.WantFrom, f.GotFrom = tested, sideRestored
	}
	return f
}

// sampleChecked lists each sampled file with its checks.
func sampleChecked(results []verify.FileResult) []model.FileCheck {
	out := make([]model.FileCheck, 0, len(results))
	for _, r := range results {
		fc := model.FileCheck{Path: r.Rel, Passed: r.Checks}
		for _, m := range r.Mismatches {
			fc.Failed = append(fc.Failed, m.Check)
		}
		out = append(out, fc)
	}
	return out
}

// drillFailure names the sides of a tree comparison: want is the local
// snapshot (or the replica when it is gone), got the received copy.
func drillFailure(m verify.Mismatch, wantSide string) model.Failure {
	f := model.Failure{Path: m.Rel, Check: m.Check, Want: m.Want, Got: m.Got}
	if m.Want != "" || m.Check != "read" {
		f.WantFrom = wantSide
	}
	if m.Got != "" || m.Check != "read" {
		f.GotFrom = sideRestored
	}
	return f
}

// archiveReport turns what services.Verify found into failures and a
// per-file list. Paths are relative to the service: the archive itself is
// named by its file name, and the members of a files service by their
// path below the directory its declared paths share, so a sandbox's root
// never shows.
func archiveReport(svc *schema.Service, archivePath string, rep archive.Report) ([]model.Failure, []model.FileCheck) {
	self := filepath.Base(archivePath)
	rel := memberRel(svc)
	var failures []model.Failure
	failed := map[string][]string{}
	for _, m := range rep.Mismatches {
		f := model.Failure{Path: rel(m.Path), Check: m.Check, Want: m.Want, Got: m.Got}
		switch m.Check {
		case "checksum", "missing-checksum":
			f.Path, f.WantFrom, f.GotFrom = self, sideChecksumFile, sideArchive
		case "corrupt", "path":
			f.GotFrom = sideArchive
		case "size", "sha256":
			f.WantFrom, f.GotFrom = sideArchive, sideRestored
		default: // extract, integrity, tsdb: the restored copy failed
			f.GotFrom = sideRestored
		}
		if f.Path == "" {
			f.Path = self
		}
		failures = append(failures, f)
		failed[f.Path] = append(failed[f.Path], f.Check)
	}
	checked := []model.FileCheck{{Path: self, Passed: []string{"checksum"}}}
	for _, m := range rep.Members {
		passed := []string{"size", "sha256"}
		if svc.Kind == schema.ServiceSQLite && m == filepath.Base(svc.Database) {
			passed = append(passed, "integrity")
		}
		checked = append(checked, model.FileCheck{Path: rel(m), Passed: passed})
	}
	if svc.Kind == schema.ServicePrometheus {
		checked = append(checked, model.FileCheck{Path: rel(services.TSDBMember), Passed: []string{"tsdb"}})
	}
	for i := range checked {
		fc := &checked[i]
		fc.Failed = failed[fc.Path]
		delete(failed, fc.Path)
		if len(fc.Failed) > 0 {
			fc.Passed = slices.DeleteFunc(fc.Passed, func(c string) bool {
				return slices.Contains(fc.Failed, c) || c == "checksum" && slices.Contains(fc.Failed, "missing-checksum")
			})
		}
	}
	for _, f := range failures { // members that failed before they were restored
		if checks, ok := failed[f.Path]; ok {
			checked = append(checked, model.FileCheck{Path: f.Path, Failed: checks})
			delete(failed, f.Path)
		}
	}
	return failures, checked
}

// memberRel returns the function that shows an archive member relative to
// its service: a files service's members are stored under their absolute
// source paths (minus the leading "/"), shown here below the directory
// those paths share.
func memberRel(svc *schema.Service) func(string) string {
	if svc.Kind != schema.ServiceFiles || len(svc.Paths) == 0 {
		return func(m string) string { return m }
	}
	base := strings.TrimPrefix(commonDir(svc.Paths), "/")
	return func(m string) string {
		if base == "" {
			return m
		}
		if r, ok := strings.CutPrefix(m, base+"/"); ok {
			return r
		}
		return m
	}
}

// commonDir is the deepest directory containing every path.
func commonDir(paths []string) string {
	dir := path.Dir(filepath.ToSlash(paths[0]))
	for _, p := range paths {
		p = filepath.ToSlash(p)
		for dir != "/" && !strings.HasPrefix(p, dir+"/") {
			dir = path.Dir(dir)
		}
	}
	return dir
}
