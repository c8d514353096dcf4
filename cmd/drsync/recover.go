package main

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/internal/shellwords"
	"github.com/drsync/drsync/internal/termtext"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/recovery/pathrestore"
	"github.com/drsync/drsync/schema"
)

func newFindCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "find PATH",
		Short: "List every snapshot, local and external, that holds PATH",
		Long:  "PATH is relative to a subvolume, or an absolute path under a declared source. Shows size, mtime and whether the content changed from the previous snapshot.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFind(g, args[0])
		},
	}
}

func newRestoreCommand(g *globalOptions) *cobra.Command {
	var o restoreOptions
	cmd := &cobra.Command{
		Use:   "restore PATH --from SNAPSHOT",
		Short: "Restore a file or directory from a snapshot, next to the original, verified",
		Long: "Restores PATH from SNAPSHOT (the local copy, else the replica) with its metadata. By default the copy goes next to " +
			"the original as PATH.restored-<timestamp>; --to DIR puts it in DIR. Nothing is overwritten without --force, and " +
			"success is reported only after the copy was verified against the snapshot.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.path = args[0]
			return runRestore(cmd.Context(), g, o)
		},
	}
	cmd.Flags().StringVar(&o.from, "from", "", "snapshot name, as drsync find lists it")
	cmd.Flags().StringVar(&o.to, "to", "", "directory to restore into (default: next to the original)")
	cmd.Flags().BoolVar(&o.force, "force", false, "replace what already exists at the destination")
	cmd.MarkFlagRequired("from")
	return cmd
}

func resolvePath(g *globalOptions, path string) (*schema.Desired, *model.Observed, map[string]string, error) {
	d, obs, _, err := loadObserved(g)
	if err != nil {
		return nil, nil, nil, err
	}
	sources := map[string]string{}
	for name, s := range d.Subvolumes {
		sources[name] = s.Source
	}
	targets, err := pathrestore.Resolve(sources, path)
	return d, obs, targets, err
}

func snapshotsOf(d *schema.Desired, obs *model.Observed, name string) []pathrestore.Snapshot {
	s, st := d.Subvolumes[name], obs.Subvolumes[name]
	var out []pathrestore.Snapshot
	for _, l := range st.Local {
		out = append(out, pathrestore.Snapshot{Name: l.Name, Location: s.Snapshots.Location, Time: l.Time,
			Path: filepath.Join(d.SnapshotDir(s.Snapshots.Location, name), l.Name)})
	}
	if s.External != nil {
		for _, r := range model.Replicas(st.External) {
			out = append(out, pathrestore.Snapshot{Name: r.Name, Location: s.External.Location, Time: r.Time,
				Path: filepath.Join(d.SnapshotDir(s.External.Location, name), r.Name)})
		}
	}
	return out
}

// commonFlags repeats -f and -t for a command a user will copy, quoted.
func commonFlags(g *globalOptions) string {
	out := " -f " + shellwords.Quote(g.file)
	for _, t := range g.tags {
		out += " -t " + shellwords.Quote(t)
	}
	if g.storage != "btrfs" {
		out += " --storage " + g.storage
	}
	return out
}

// runFind lists every snapshot that holds path.
func runFind(g *globalOptions, path string) error {
	d, obs, targets, err := resolvePath(g, path)
	if err != nil {
		return err
	}
	type found struct {
		Subvolume string             `json:"subvolume"`
		Path      string             `json:"path"`
		Copies    []pathrestore.Copy `json:"copies"`
	}
	var all []found
	for _, name := range slices.Sorted(maps.Keys(targets)) {
		copies, err := pathrestore.Find(snapshotsOf(d, obs, name), targets[name])
		if err != nil {
			return err
		}
		if len(copies) > 0 {
			all = append(all, found{name, targets[name], copies})
		}
	}
	if g.json {
		if err := writeJSON(g.stdout, all); err != nil {
			return err
		}
		if len(all) == 0 {
			return exitCodeError{exitError}
		}
		return nil
	}
	if len(all) == 0 {
		return fmt.Errorf("%s is in no snapshot", termtext.Escape(path))
	}
	for _, f := range all {
		fmt.Fprintf(g.stdout, "%s: %s\n", f.Subvolume, termtext.Escape(f.Path))
		for _, c := range f.Copies {
			fmt.Fprintf(g.stdout, "  %-36s %-10s %10s  %s  %s\n", c.Snapshot, c.Location, humane.Bytes(c.Size), c.Mtime.Format("2006-01-02 15:04"), c.Change)
		}
	}
	fmt.Fprintf(g.stdout, "\nrestore one with: drsync restore %s --from SNAPSHOT%s\n", shellwords.Quote(path), commonFlags(g))
	return nil
}

type restoreOptions struct {
	path, from, to string
	force          bool
}

// runRestore restores a file or directory from a snapshot, verified.
func runRestore(ctx context.Context, g *globalOptions, o restoreOptions) error {
	d, obs, targets, err := resolvePath(g, o.path)
	if err != nil {
		return err
	}
	subvol := o.from[:max(strings.LastIndex(o.from, "."), 0)]
	rel, ok := targets[subvol]
	if !ok || d.Subvolumes[subvol] == nil {
		return fmt.Errorf("--from %s: not a snapshot of a subvolume holding %s", o.from, o.path)
	}
	var snap *pathrestore.Snapshot
	for _, s := range snapshotsOf(d, obs, subvol) {
		if s.Name == o.from && (snap == nil || !d.Locations[s.Location].External) {
			s := s
			snap = &s
		}
	}
	if snap == nil {
		return fmt.Errorf("--from %s: no such snapshot (see drsync find %s)", o.from, shellwords.Quote(o.path))
	}
	dest := filepath.Join(d.Subvolumes[subvol].Source, filepath.FromSlash(rel)) + ".restored-" + time.Now().Format("20060102T150405")
	if o.to != "" {
		dest = filepath.Join(o.to, filepath.Base(rel))
	}
	rep, err := pathrestore.Restore(ctx, snap.Path, rel, dest, o.force)
	if err != nil {
		return err
	}
	if g.json {
		return writeJSON(g.stdout, struct {
			From     string `json:"from"`
			Location string `json:"location"`
			To       string `json:"to"`
			Entries  int    `json:"entries"`
			Bytes    int64  `json:"bytes"`
		}{snap.Name, snap.Location, dest, rep.Entries, rep.Bytes})
	}
	fmt.Fprintf(g.stdout, "restored %s from %s (%s) to %s: %s, %s, verified\n",
		termtext.Escape(rel), snap.Name, snap.Location, termtext.Escape(dest), humane.Count(rep.Entries, "entry"), humane.Bytes(rep.Bytes))
	return nil
}
