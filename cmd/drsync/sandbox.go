package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/drsync/drsync/internal/shellwords"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/schema"
	"github.com/spf13/cobra"
)

func newSandboxCommand(g *globalOptions) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Build or remove a throwaway machine (loop-mounted btrfs) for a desired state",
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", "", "sandbox directory (injected as -t root=DIR)")
	cmd.MarkPersistentFlagRequired("dir")
	up := &cobra.Command{
		Use:   "up",
		Short: "Create loop-mounted btrfs filesystems, the declared source subvolumes and sample data",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			if err := sandbox.Available(); err != nil {
				return fmt.Errorf("sandbox needs loop-mounted btrfs: %w", err)
			}
			tags := append(append([]string(nil), g.tags...), "root="+abs)
			d, err := schema.Load(g.file, tags)
			if err != nil {
				return err
			}
			layout, err := sandbox.LayoutFor(d, abs)
			if err != nil {
				return err
			}
			if err := sandbox.Up(cmd.Context(), abs, layout); err != nil {
				return err
			}
			if err := sandbox.StartServices(cmd.Context(), abs, d); err != nil {
				sandbox.Down(context.WithoutCancel(cmd.Context()), abs)
				return err
			}
			for _, fs := range layout.Filesystems {
				uuid := ""
				if fs.UUID != "" {
					uuid = " (uuid " + fs.UUID + ")"
				}
				fmt.Fprintf(g.stdout, "mounted a btrfs at %s%s\n", fs.MountPoint, uuid)
			}
			next := "drsync plan -f " + shellwords.Quote(g.file)
			for _, t := range tags {
				next += " -t " + shellwords.Quote(t)
			}
			for _, name := range d.ServiceNames() {
				svc := d.Services[name]
				what := map[string]string{schema.ServiceFiles: "sample configuration files", schema.ServiceSQLite: "a SQLite database",
					schema.ServicePrometheus: "a running Prometheus at " + svc.URL}[svc.Kind]
				fmt.Fprintf(g.stdout, "prepared service %s: %s\n", name, what)
			}
			fmt.Fprintf(g.stdout, "created %s with sample data\n\nnext: %s\n", count(len(layout.Subvolumes), "source subvolume"), next)
			return nil
		},
	}
	down := &cobra.Command{
		Use:   "down",
		Short: "Unmount and detach everything a sandbox made (safe to run twice)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			if err := sandbox.Down(cmd.Context(), abs); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "sandbox %s is down\n", abs)
			return nil
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
			path, err := schema.Export(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "wrote %s\ncheck a desired state with:\n  cue export drsync.cue --out json > state.json\n  cue vet -c -d '#Desired' %s state.json\n", path, path)
			return nil
		},
	})
	return cmd
}
