package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/render"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/schema"
	"github.com/spf13/cobra"
)

type rehearseOptions struct {
	dir  string
	keep bool
}

func newRehearseCommand(g *globalOptions) *cobra.Command {
	var o rehearseOptions
	cmd := &cobra.Command{
		Use:   "rehearse DR-002",
		Short: "Run a runbook for real on a throwaway sandbox of the desired state",
		Long: "Builds a sandbox of the desired state (-f; its paths must follow a root tag, as sandbox up needs), applies it, " +
			"stages the runbook's disaster, runs the drsync commands the runbook prints, in order, and tears the sandbox down. " +
			"It passes when every command succeeds: each recovery verified the whole tree against the copy it came from, and " +
			"each checklist found the next send incremental. DR-002 (the pool's sources and local snapshots destroyed) is " +
			"rehearsed so far.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRehearse(cmd.Context(), g, o, args[0])
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", "", "where to build the sandbox (default: a new temporary directory)")
	cmd.Flags().BoolVar(&o.keep, "keep", false, "leave the sandbox in place to explore")
	return cmd
}

func runRehearse(ctx context.Context, g *globalOptions, o rehearseOptions, runbook string) error {
	if runbook == "DR-004" {
		return runRehearseTotalLoss(ctx, g, o)
	}
	if runbook != "DR-002" {
		return fmt.Errorf("rehearse %s: only DR-002 and DR-004 can be rehearsed so far (DR-001 and DR-003 are not built yet)", runbook)
	}
	start := time.Now()
	dir := o.dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "drsync-rehearse-")
		if err != nil {
			return err
		}
		dir = tmp
	}
	root, err := filepath.Abs(filepath.Join(dir, "root"))
	if err != nil {
		return err
	}
	file, err := filepath.Abs(g.file)
	if err != nil {
		return err
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("rehearse: %w", err)
	}
	tags := append([]string(nil), g.tags...)
	if strings.Contains(string(src), "@tag(drive_uuid)") {
		tags = append(tags, "drive_uuid="+sandbox.NewUUID())
	}
	if strings.Contains(string(src), "@tag(prometheus_url)") {
		t, err := freePrometheusTag()
		if err != nil {
			return err
		}
		tags = append(tags, t)
	}
	step := demoRunner{g: g, file: file, root: root}.step
	up := append([]string{"sandbox", "up", "--dir", root, "-f", file, "--storage", g.storage}, tagFlags(tags)...)
	if !o.keep {
		defer func() {
			step("sandbox", "down", "--dir", root)
			if o.dir == "" {
				os.RemoveAll(dir)
			}
		}()
	}
	if err := step(up...); err != nil {
		return err
	}
	tags = append(tags, "root="+root)
	d, err := schema.Load(file, tags)
	if err != nil {
		return err
	}
	if dl, err := schema.Load(file, append(tags, luksOffTag)); err == nil {
		tags, d = append(tags, luksOffTag), dl
	}
	// The sandbox's own flags, added to every command the runbook prints:
	// its file and tags, and its storage.
	sandboxFlags := append([]string{"-f", file, "--storage", g.storage}, tagFlags(tags)...)
	if err := step(append([]string{"apply", "--auto-approve"}, sandboxFlags...)...); err != nil {
		return fmt.Errorf("rehearse %s: the apply before the disaster failed: %w", runbook, err)
	}
	commands, names, err := runbookRecoveries(d, runbook)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "\n== %s: the disaster: the sources of %s and their local snapshots are destroyed\n", runbook, strings.Join(names, ", "))
	if err := destroy(ctx, g, d, names); err != nil {
		return fmt.Errorf("rehearse %s: staging the disaster: %w", runbook, err)
	}
	fmt.Fprintf(g.stdout, "\n== %s: the runbook's drsync commands, with the sandbox's flags and --auto-approve\n", runbook)
	for _, c := range commands {
		args := append(append([]string(nil), c...), sandboxFlags...)
		if !slices.Contains(c, "--verify-only") {
			args = append(args, "--auto-approve")
		}
		if err := step(args...); err != nil {
			fmt.Fprintf(g.stdout, "\nRehearsal %s: FAIL after %s: %v\n", runbook, time.Since(start).Round(time.Second), err)
			return exitCodeError{exitError}
		}
	}
	fmt.Fprintf(g.stdout, "\nRehearsal %s: PASS in %s (%s recovered, verified, next sends incremental)\n",
		runbook, time.Since(start).Round(time.Second), humane.Count(len(names), "subvolume"))
	return nil
}

func tagFlags(tags []string) []string {
	var out []string
	for _, t := range tags {
		out = append(out, "-t", t)
	}
	return out
}

// runbookRecoveries renders the runbook for d and returns its drsync
// recover commands (without the program) and the subvolumes they recover.
func runbookRecoveries(d *schema.Desired, runbook string) ([][]string, []string, error) {
	books, err := render.Runbooks(render.Input{Desired: d, Now: time.Now()})
	if err != nil {
		return nil, nil, err
	}
	var commands [][]string
	var names []string
	for path, md := range books {
		if !strings.HasPrefix(filepath.Base(path), runbook) {
			continue
		}
		for _, c := range render.Commands(md) {
			if len(c) < 3 || c[1] != "recover" {
				continue
			}
			commands = append(commands, c[1:])
			if !slices.Contains(c, "--verify-only") {
				names = append(names, c[2])
			}
		}
	}
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("rehearse %s: the runbook recovers nothing for this desired state", runbook)
	}
	return commands, names, nil
}

// destroy stages the loss of each named subvolume: its source and its
// local snapshots (and whatever else is named like one) are deleted.
func destroy(ctx context.Context, g *globalOptions, d *schema.Desired, names []string) error {
	st, err := newStorage(g)
	if err != nil {
		return err
	}
	for _, name := range names {
		s := d.Subvolumes[name]
		dir := d.SnapshotDir(s.Snapshots.Location, name)
		entries, err := st.List(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Subvolume && strings.HasPrefix(e.Name, name+".") {
				if err := st.Delete(ctx, filepath.Join(dir, e.Name)); err != nil {
					return err
				}
			}
		}
		if err := st.Delete(ctx, s.Source); err != nil {
			return err
		}
	}
	return nil
}
