package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/internal/shellwords"
	"github.com/drsync/drsync/internal/termtext"
	"github.com/drsync/drsync/recovery/pathrestore"
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
	d, obs, _, err := loadObserved(g)
	if err != nil {
		return err
	}
	all, err := pathrestore.FindAll(d, obs, path)
	if err != nil {
		return err
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
	d, obs, _, err := loadObserved(g)
	if err != nil {
		return err
	}
	c, err := pathrestore.Choose(d, obs, o.path, o.from, o.to, time.Now())
	if err != nil {
		return err
	}
	snap := c.Snapshot
	rep, err := pathrestore.Restore(ctx, snap.Path, c.Rel, c.Dest, o.force)
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
		}{snap.Name, snap.Location, c.Dest, rep.Entries, rep.Bytes})
	}
	fmt.Fprintf(g.stdout, "restored %s from %s (%s) to %s: %s, %s, verified\n",
		termtext.Escape(c.Rel), snap.Name, snap.Location, termtext.Escape(c.Dest), humane.Count(rep.Entries, "entry"), humane.Bytes(rep.Bytes))
	return nil
}
