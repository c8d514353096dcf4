package rehearse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/render/runbook"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

// DR-004 (total loss) rehearsed from the off-site copies alone: when the
// off-site sends are due, the runbook's recover commands, staging the
// loss, and checking that the sends after the recovery are incremental.

// OffsiteDueTime is the first time from from on (or, with step negative,
// back from it) when every subvolume's off-site schedule has a slot open
// for the snapshot taken then (a weekly send waits for its day); from
// itself when there is none within a month.
func OffsiteDueTime(d *schema.Desired, from time.Time, step time.Duration) time.Time {
	for t := from.Truncate(time.Hour).Add(step + time.Minute); t.Sub(from).Abs() < 31*24*time.Hour; t = t.Add(step) {
		if offsiteDue(d, t) {
			return t
		}
	}
	return from
}

func offsiteDue(d *schema.Desired, t time.Time) bool {
	for _, name := range d.SubvolumeNames() {
		s := d.Subvolumes[name]
		for _, sends := range s.Offsite {
			taken := t
			if s.Snapshots.Schedule.Kind != "every" {
				taken = s.Snapshots.Schedule.Slot(t)
			}
			if sends.Schedule.Kind != "every" && sends.Schedule.Slot(t).Before(taken) {
				return false
			}
		}
	}
	return true
}

// TotalLossCommands are the runbook's recover commands that read an
// off-site target, without the program. A source that is the sandbox's
// root (the example's "/") is recovered --to a new root inside it, as the
// runbook recovers "/" to /mnt/newroot.
func TotalLossCommands(d *schema.Desired, root string) ([][]string, error) {
	books, err := runbook.Render(view.Input{Desired: d, Now: time.Now()})
	if err != nil {
		return nil, err
	}
	var out [][]string
	for path, md := range books {
		if !strings.HasPrefix(filepath.Base(path), "DR-004") {
			continue
		}
		for _, c := range runbook.Commands(md) {
			if len(c) < 3 || c[1] != "recover" || !slices.Contains(c, "--from-target") {
				continue
			}
			c = c[1:]
			if i := slices.Index(c, "--to"); i >= 0 && i+1 < len(c) {
				c[i+1] = filepath.Join(root, c[i+1])
			} else if s := d.Subvolumes[c[1]]; s != nil && filepath.Clean(s.Source) == root {
				c = append(c, "--to", filepath.Join(root, "mnt", "newroot"))
			}
			if i := slices.Index(c, "--to"); i >= 0 {
				if err := os.MkdirAll(c[i+1], 0o755); err != nil {
					return nil, err
				}
			}
			// The runbook's -f names the real file; the sandbox's is added.
			if i := slices.Index(c, "-f"); i >= 0 && i+1 < len(c) {
				c = slices.Delete(c, i, i+2)
			}
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("rehearse DR-004: the runbook recovers nothing from an off-site target: declare one (targets:) and send to it (offsite:)")
	}
	return out, nil
}

// StageTotalLoss destroys what a fire takes: every local snapshot (and
// anything else named like one), then every source except the sandbox's
// root, the state directory, the services' archives; the drive is
// unmounted, as if it were gone.
func StageTotalLoss(ctx context.Context, st model.Storage, d *schema.Desired, root string) error {
	names := d.SubvolumeNames()
	for _, name := range names {
		s := d.Subvolumes[name]
		snapDir := d.SnapshotDir(s.Snapshots.Location, name)
		entries, err := st.List(snapDir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Subvolume && strings.HasPrefix(e.Name, name+".") {
				if err := st.Delete(ctx, filepath.Join(snapDir, e.Name)); err != nil {
					return err
				}
			}
		}
	}
	// Deepest first: a source may hold another's snapshot directory.
	slices.SortFunc(names, func(a, b string) int {
		return strings.Count(d.Subvolumes[b].Source, "/") - strings.Count(d.Subvolumes[a].Source, "/")
	})
	for _, name := range names {
		if src := d.Subvolumes[name].Source; filepath.Clean(src) != root {
			if err := st.Delete(ctx, src); err != nil {
				return err
			}
		}
	}
	for _, name := range d.ServiceNames() {
		if err := os.RemoveAll(d.ArchiveDir(d.Services[name])); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(d.StateDir); err != nil {
		return err
	}
	for _, l := range d.Locations {
		if l.External {
			if err := unix.Unmount(l.Mount, 0); err != nil {
				return fmt.Errorf("the drive at %s: %w", l.Mount, err)
			}
		}
	}
	return nil
}

// CheckIncremental reads a plan (plan --json) made at the given time and
// checks that every recovered subvolume's off-site sends continue a chain
// (or send incrementally) rather than start over with a full stream,
// listing each incremental send on w.
func CheckIncremental(w io.Writer, planJSON []byte, at time.Time, recovered []string) error {
	var p struct {
		Subvolumes []struct {
			Name    string `json:"name"`
			Actions []struct {
				Kind    string `json:"kind"`
				Offsite *struct {
					Target string `json:"target"`
					Parent string `json:"parent"`
				} `json:"offsite"`
			} `json:"actions"`
		} `json:"subvolumes"`
	}
	if err := json.Unmarshal(planJSON, &p); err != nil {
		return fmt.Errorf("plan --json: %w", err)
	}
	sent := map[string]bool{}
	var errs []error
	for _, s := range p.Subvolumes {
		for _, a := range s.Actions {
			if a.Kind != "offsite-send" || a.Offsite == nil || !slices.Contains(recovered, s.Name) {
				continue
			}
			sent[s.Name] = true
			if a.Offsite.Parent == "" {
				errs = append(errs, fmt.Errorf("%s: the next send to %s is a full one", s.Name, a.Offsite.Target))
			} else {
				fmt.Fprintf(w, "  ✓ %s → %s incremental from %s\n", s.Name, a.Offsite.Target, a.Offsite.Parent)
			}
		}
	}
	for _, name := range recovered {
		if !sent[name] {
			errs = append(errs, fmt.Errorf("%s: no off-site send is planned at %s", name, at.Format(time.RFC3339)))
		}
	}
	return errors.Join(errs...)
}

// offsiteLoss rehearses DR-004 (fire or theft: the machine and the drive
// are gone) from the off-site copies alone, on a sandbox applied at
// before: the total loss staged (every source but the sandbox's root, every
// local snapshot, the state directory with its journal, the service
// archives; the drive unmounted), the runbook's recover commands run, the
// services' fetched archives restored into staging and checked ready, and
// a plan a day later whose off-site sends must all continue the chains
// incrementally, then its apply. The off-site servers' filesystems
// survive, as another machine would; the desired state, the S3
// credentials and the age identity are what a person keeps off the
// machine and brings back, so they stay in place.
func (r *run) offsiteLoss(ctx context.Context, d *schema.Desired, root string, before time.Time) (int64, string, error) {
	commands, err := TotalLossCommands(d, root)
	if err != nil {
		return 0, "", err
	}
	fmt.Fprintf(r.env.Stdout, "\n== %s: the disaster: every source but /, every local snapshot, the journal, the service archives and the drive are gone; "+
		"the off-site servers' data, the desired state, the credentials and the age identity survive\n", r.o.Runbook)
	if err := StageTotalLoss(ctx, r.env.Storage, d, root); err != nil {
		return 0, "", fmt.Errorf("staging the disaster: %w", err)
	}
	fmt.Fprintf(r.env.Stdout, "\n== %s: the runbook's drsync commands, with the sandbox's flags and --auto-approve\n", r.o.Runbook)
	var recovered []string
	var picks []archivePick
	for _, c := range commands {
		if err := r.step(append(append(slices.Clone(c), r.flags...), "--auto-approve")...); err != nil {
			return 0, "", err
		}
		switch name := c[1]; {
		case d.Subvolumes[name] != nil && !slices.Contains(c, "--to"):
			recovered = append(recovered, name)
		case d.Services[name] != nil:
			pick, err := fetchedArchive(d, d.Services[name], c)
			if err != nil {
				return 0, "", err
			}
			picks = append(picks, pick)
		}
	}
	if r.services, err = r.checkServices(ctx, d, picks); err != nil {
		return 0, "", err
	}
	after := OffsiteDueTime(d, before.Add(24*time.Hour), time.Hour)
	fmt.Fprintf(r.env.Stdout, "\n== %s: the next off-site sends (at %s) continue the chains\n", r.o.Runbook, after.Format(time.RFC3339))
	var plan bytes.Buffer
	// plan exits non-zero when it has changes; its JSON is what counts.
	planErr := r.env.Drsync(&plan, append([]string{"plan", "--json", "--now", after.Format(time.RFC3339)}, r.flags...)...)
	if err := CheckIncremental(r.env.Stdout, plan.Bytes(), after, recovered); err != nil {
		if planErr != nil {
			err = fmt.Errorf("%w (plan: %v)", err, planErr)
		}
		return 0, "", err
	}
	if err := r.step(append([]string{"apply", "--auto-approve", "--now", after.Format(time.RFC3339)}, r.flags...)...); err != nil {
		return 0, "", fmt.Errorf("the apply after the recovery: %w", err)
	}
	var checked int64
	for _, c := range r.services {
		checked += c.Bytes
	}
	detail := fmt.Sprintf("%s from off-site copies alone, verified; next off-site sends incremental for %s",
		humane.Count(len(commands), "recovery"), strings.Join(recovered, ", "))
	return checked, detail + servicesSummary(r.services), nil
}

// fetchedArchive is the archive a runbook command fetched from its
// off-site target into the service's (emptied) archive directory: the
// newest there.
func fetchedArchive(d *schema.Desired, svc *schema.Service, command []string) (archivePick, error) {
	target := ""
	if i := slices.Index(command, "--from-target"); i >= 0 && i+1 < len(command) {
		target = command[i+1]
	}
	pick := archivePick{service: svc, location: target, why: "the runbook fetched no archive of it from " + target}
	archives, err := archivesIn(svc, d.ArchiveDir(svc))
	if err != nil {
		return pick, err
	}
	if len(archives) > 0 {
		newest := slices.MaxFunc(archives, func(a, b model.Snapshot) int { return a.Time.Compare(b.Time) })
		pick.path, pick.why = filepath.Join(d.ArchiveDir(svc), newest.Name), ""
	}
	return pick, nil
}
