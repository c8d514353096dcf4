package rehearse

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/providers/services"
	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/recovery"
	"github.com/drsync/drsync/rehearse/evidence"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
)

// A rehearsal of a disaster that takes services restores each one's newest
// verified archive (the one a recovery would pick) into staging under the
// restore scratch directory, never over the sandbox's live data, and
// checks it the way the service reads it: the real Prometheus served over
// the TSDB and queried, SQLite's integrity check and every table's rows,
// files against their checksums (services.Drill).

// archivePick is the archive a rehearsal checks for a service.
type archivePick struct {
	service  *schema.Service
	path     string // "" when there is none: why says so
	location string
	why      string
}

// verifiedArchives picks each service's newest archive that a restore
// test or drill verified, read where it survives the disaster: the local
// archive unless its directory lies in a lost subvolume (the system disk
// takes its archives with it), else the copy on the drive.
func verifiedArchives(d *schema.Desired, names, lost []string) ([]archivePick, error) {
	j, err := journal.OpenJournal(d.StateDir)
	if err != nil {
		return nil, err
	}
	entries, err := j.Entries()
	if err != nil {
		return nil, err
	}
	verified := recovery.VerifiedFrom(entries)
	var out []archivePick
	for _, name := range names {
		svc := d.Services[name]
		var places [][2]string // directory, location
		if !slices.Contains(lost, d.SubvolumeHolding(d.ArchiveDir(svc))) {
			places = append(places, [2]string{d.ArchiveDir(svc), svc.Location})
		}
		if svc.External != nil {
			places = append(places, [2]string{d.ArchiveCopyDir(svc), svc.External.Location})
		}
		pick := archivePick{service: svc, why: "no archive that a restore test or drill verified survives the disaster"}
		var newest time.Time
		for _, place := range places {
			archives, err := archivesIn(svc, place[0])
			if err != nil {
				return nil, err
			}
			for _, a := range archives {
				if _, ok := verified[name][a.Name]; ok && (pick.path == "" || a.Time.After(newest)) {
					pick.path, pick.location, pick.why, newest = filepath.Join(place[0], a.Name), place[1], "", a.Time
				}
			}
		}
		out = append(out, pick)
	}
	return out, nil
}

// archivesIn lists a service's checksummed archives in dir.
func archivesIn(svc *schema.Service, dir string) ([]model.Snapshot, error) {
	entries, err := services.Store{}.ListArchives(dir)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	var out []model.Snapshot
	for _, e := range entries {
		if st, ok := snapname.Parse(svc.Name, strings.TrimSuffix(e.Name, model.ArchiveSuffix), time.Local); ok &&
			strings.HasSuffix(e.Name, model.ArchiveSuffix) && e.HasChecksum {
			out = append(out, model.Snapshot{Name: e.Name, Time: st.Time})
		}
	}
	return out, nil
}

// checkServices restores each picked archive into staging and checks it,
// printing each result; the error names every service that failed.
func (r *run) checkServices(ctx context.Context, d *schema.Desired, picks []archivePick) ([]evidence.ServiceCheck, error) {
	if len(picks) == 0 {
		return nil, nil
	}
	fmt.Fprintf(r.env.Stdout, "\n== %s: the services the disaster takes, each restored from its archive into staging and checked ready\n", r.o.Runbook)
	var checks []evidence.ServiceCheck
	var failed []string
	for _, p := range picks {
		c := r.checkService(ctx, d, p)
		mark := "✓"
		if !c.Passed {
			mark = "✗"
			failed = append(failed, c.Service)
		}
		from := ""
		if c.Archive != "" {
			from = fmt.Sprintf(" %s from %s:", c.Archive, c.Location)
		}
		fmt.Fprintf(r.env.Stdout, "  %s %s:%s %s\n", mark, c.Service, from, c.Detail)
		checks = append(checks, c)
	}
	if len(failed) > 0 {
		return checks, fmt.Errorf("service(s) not ready from their archives: %s", strings.Join(failed, ", "))
	}
	return checks, nil
}

// checkService restores one archive into a staging directory of its own,
// removed after, and brings the service up on it.
func (r *run) checkService(ctx context.Context, d *schema.Desired, p archivePick) evidence.ServiceCheck {
	c := evidence.ServiceCheck{Service: p.service.Name, Archive: filepath.Base(p.path), Location: p.location}
	if p.path == "" {
		c.Archive, c.Detail = "", p.why
		return c
	}
	if err := os.MkdirAll(d.Restore.Scratch, 0o700); err != nil {
		c.Detail = err.Error()
		return c
	}
	staging, err := os.MkdirTemp(d.Restore.Scratch, "rehearse-"+p.service.Name+"-")
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	defer os.RemoveAll(staging)
	res, err := services.Drill(ctx, p.service, p.path, staging)
	c.Files, c.Bytes = res.Archive.Files, res.Archive.Bytes
	c.RestoreSeconds, c.ServiceSeconds = res.RestoreSeconds, res.ServiceSeconds
	switch {
	case errors.Is(err, services.ErrNothingToProve):
		c.Detail = "the archive holds no data to check: " + err.Error()
	case err != nil:
		c.Detail = err.Error()
	case len(res.Archive.Mismatches) > 0:
		m := res.Archive.Mismatches[0]
		c.Detail = fmt.Sprintf("%s: %s failed: %s", cmp.Or(m.Path, "the archive"), m.Check, cmp.Or(m.Got, m.Want))
		if n := len(res.Archive.Mismatches); n > 1 {
			c.Detail += fmt.Sprintf(" (and %d more)", n-1)
		}
	default:
		c.Passed = true
		details := []string{fmt.Sprintf("%s (%s) restored, each against its checksum", humane.Count(c.Files, "file"), humane.Bytes(c.Bytes))}
		for _, ch := range res.Checks {
			details = append(details, ch.Check+": "+ch.Detail)
		}
		c.Detail = strings.Join(details, "; ")
	}
	return c
}

// servicesSummary is the rehearsal's detail about its services.
func servicesSummary(checks []evidence.ServiceCheck) string {
	if len(checks) == 0 {
		return ""
	}
	names := make([]string, len(checks))
	for i, c := range checks {
		names[i] = c.Service
	}
	return fmt.Sprintf("; %s (%s) restored from their archives into staging and ready", humane.Count(len(checks), "service"), strings.Join(names, ", "))
}
