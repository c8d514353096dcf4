package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/proofview"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/proofs"
)

// checks are what a restore test verifies on every sampled file.
const checks = "sha256, size, mode, owner, mtime, xattrs (incl. security.selinux), symlink target"

func newTestCommand(g *globalOptions) *cobra.Command {
	o := proofs.Options{Kind: model.KindTest}
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Restore a sample of files from the newest snapshots to scratch and verify them",
		Long: "For each subvolume, restore a random sample of files from the newest snapshot (the replica on the " +
			"external drive when present, else the local one) into scratch and verify " + checks + ". " +
			"Exits 0 when all pass, 1 when any fails. The seed is printed, so any sample can be repeated.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runProofs(cmd.Context(), g, o, verbose)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Names, "subvolume", nil, "subvolume or service to test (repeatable; default all)")
	f.IntVar(&o.SampleSize, "sample-size", 0, "files per subvolume (default: the tier's sampleSize)")
	f.Int64Var(&o.Seed, "seed", 0, "seed of the random sample (default: a new one, printed)")
	f.BoolVar(&o.DryRun, "dry-run", false, "show which snapshot and which files would be tested")
	f.BoolVarP(&verbose, "verbose", "v", false, "list every file and its checks")
	return cmd
}

func newDrillCommand(g *globalOptions) *cobra.Command {
	o := proofs.Options{Kind: model.KindDrill}
	var verbose bool
	cmd := &cobra.Command{
		Use:   "drill --subvolume NAME",
		Short: "Full recovery drill: restore the whole newest replica (or a service's archive and start the service on it), verify every file, measure the RTO",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runProofs(cmd.Context(), g, o, verbose)
		},
	}
	cmd.Flags().StringArrayVar(&o.Names, "subvolume", nil, "subvolume or service to drill (repeatable)")
	cmd.MarkFlagRequired("subvolume")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every problem found")
	return cmd
}

// runProofs tests or drills the named subvolumes (default all).
func runProofs(ctx context.Context, g *globalOptions, o proofs.Options, verbose bool) error {
	d, err := g.session().Load()
	if err != nil {
		return err
	}
	env, err := g.session().Env(d)
	if err != nil {
		return err
	}
	o.File = g.file
	if !g.json {
		o.Progress = g.stderr
	}
	out, err := proofs.Run(ctx, env, o)
	switch {
	case err != nil:
		return err
	case out.DryRun != nil && g.json:
		return writeJSON(g.stdout, out.DryRun)
	case out.DryRun != nil:
		out.DryRun.WriteText(g.stdout)
		return nil
	case g.json:
		if err := writeJSON(g.stdout, out.Proofs); err != nil {
			return err
		}
	default:
		proofview.Write(g.stdout, out.Proofs, verbose)
	}
	if out.Failed {
		return exitCodeError{exitError}
	}
	return nil
}
