package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/sandbox/machine"
	"github.com/drsync/drsync/schema"
)

func newSandboxCommand(g *globalOptions) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Build or remove a throwaway machine (loop-mounted btrfs, or plain directories with --storage dir) for a desired state",
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", "", "sandbox directory (injected as -t root=DIR)")
	cmd.MarkPersistentFlagRequired("dir")
	up := &cobra.Command{
		Use:   "up",
		Short: "Create loop-mounted btrfs filesystems (plain directories with --storage dir), the declared sources and sample data",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return machine.Up(cmd.Context(), g.session(), dir, g.stdout)
		},
	}
	down := &cobra.Command{
		Use:   "down",
		Short: "Unmount and detach everything a sandbox made (safe to run twice)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSandboxDown(cmd.Context(), g, dir)
		},
	}
	cmd.AddCommand(up, down)
	return cmd
}

func newSchemaCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "schema", Short: "Work with the embedded CUE schema"}
	cmd.AddCommand(&cobra.Command{
		Use:   "export DIR",
		Short: "Write the embedded schema to DIR, for CUE's own cue vet",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSchemaExport(g, args[0])
		},
	})
	return cmd
}

// runSandboxDown unmounts, detaches and stops what a sandbox made.
func runSandboxDown(ctx context.Context, g *globalOptions, dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := sandbox.Down(ctx, abs); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "sandbox %s is down\n", abs)
	return nil
}

func runSchemaExport(g *globalOptions, dir string) error {
	path, err := schema.Export(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "wrote %s\ncheck a desired state with:\n  cue export drsync.cue --out json > state.json\n  cue vet -c -d '#Desired' %s state.json\n", path, path)
	return nil
}
