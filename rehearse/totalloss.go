package rehearse

import (
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

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/render/runbook"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

// The parts of the DR-004 (total loss) rehearsal that need no CLI: when
// the off-site sends are due, the runbook's recover commands, staging the
// loss, and checking that the sends after the recovery are incremental.
// cmd/drsync (rehearse_dr004.go) runs the steps.

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
