package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/rehearse"
)

func newRehearseCommand(g *globalOptions) *cobra.Command {
	var o rehearse.Options
	cmd := &cobra.Command{
		Use:   "rehearse DR-00N",
		Short: "Run a runbook for real on a throwaway sandbox of the desired state",
		Long: "Builds a sandbox of the desired state (-f; its paths must follow a root tag, as sandbox up needs), applies it, " +
			"stages the runbook's disaster (DR-001: the system disk's sources and local snapshots; DR-002: a pool's; " +
			"DR-003: a file; DR-004: everything, the drive's replicas too, recovered from off-site copies alone where targets are declared), " +
			"runs the drsync commands of the runbook's recovery procedure in order, compares what came back with the copy it came from, " +
			"restores each service the disaster takes from its newest verified archive into staging and checks it ready, and tears the sandbox down. " +
			"The outcome (duration, bytes, result) is journaled in the state directory of the desired state as given " +
			"(rehearsals.jsonl), from where the runbooks, metrics and alerts report it. Exit 1 when the rehearsal fails.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Runbook, o.File, o.Tags, o.Storage = args[0], g.file, g.tags, g.storage
			return runRehearse(cmd.Context(), g, o)
		},
	}
	cmd.Flags().StringVar(&o.Dir, "dir", "", "where to build the sandbox (default: a new temporary directory)")
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "leave the sandbox in place to explore")
	return cmd
}

func runRehearse(ctx context.Context, g *globalOptions, o rehearse.Options) error {
	st, err := newStorage(g)
	if err != nil {
		return err
	}
	env := rehearse.Env{Storage: st, Stdout: g.stdout, Drsync: func(out io.Writer, args ...string) error {
		if code := run(args, g.stdin, out, g.stdout); code != exitOK {
			return fmt.Errorf("exit %d", code)
		}
		return nil
	}}
	if _, err := rehearse.Run(ctx, o, env); errors.Is(err, rehearse.ErrFailed) {
		return exitCodeError{exitError}
	} else if err != nil {
		return err
	}
	return nil
}

func tagFlags(tags []string) []string {
	var out []string
	for _, t := range tags {
		out = append(out, "-t", t)
	}
	return out
}
