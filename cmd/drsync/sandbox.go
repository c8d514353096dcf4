package main

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/internal/shellwords"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/schema"
	"github.com/spf13/cobra"
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
			return runSandboxUp(cmd.Context(), g, dir)
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

// runSandboxUp builds a sandbox for the desired state under dir: loop-
// mounted btrfs, or plain directories with --storage dir.
func runSandboxUp(ctx context.Context, g *globalOptions, dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	tags := append(append([]string(nil), g.tags...), "root="+abs)
	next := "drsync plan -f " + shellwords.Quote(g.file)
	for _, t := range tags {
		next += " -t " + shellwords.Quote(t)
	}
	if g.storage == "dir" {
		d, err := plainSandbox(ctx, g.file, abs, g.tags...)
		if err != nil {
			return err
		}
		reportServices(g, d)
		fmt.Fprintf(g.stdout, "created %s with sample data in plain directories\n\nnext: %s --storage dir\n",
			humane.Count(len(d.Subvolumes), "source"), next)
		return nil
	}
	if _, err := newStorage(g); err != nil {
		return err
	}
	if err := sandbox.Available(); err != nil {
		return fmt.Errorf("sandbox needs loop-mounted btrfs (or --storage dir for plain directories): %w", err)
	}
	d, err := loadDesired(g, g.file, tags)
	if err != nil {
		return err
	}
	// The sandbox's drive is a plain loop device (this sandbox makes no
	// dm-crypt container): where the file declares the tag, the LUKS check
	// is turned off for this sandbox alone.
	if dl, err := loadDesired(g, g.file, append(tags, luksOffTag)); err == nil {
		tags, d = append(tags, luksOffTag), dl
		next += " -t " + luksOffTag
	}
	layout, err := sandbox.LayoutFor(d, abs)
	if err != nil {
		return err
	}
	if err := sandbox.Up(ctx, abs, layout); err != nil {
		return err
	}
	if err := sandbox.StartServices(ctx, abs, d); err != nil {
		sandbox.Down(context.WithoutCancel(ctx), abs)
		return err
	}
	for _, fs := range layout.Filesystems {
		uuid := ""
		if fs.UUID != "" {
			uuid = " (uuid " + fs.UUID + ")"
		}
		fmt.Fprintf(g.stdout, "mounted a btrfs at %s%s\n", fs.MountPoint, uuid)
	}
	reportServices(g, d)
	for _, name := range slices.Sorted(maps.Keys(d.Locations)) {
		if l := d.Locations[name]; l.LUKS != nil && l.LUKS.Verify {
			fmt.Fprintf(g.stdout, "NOTE: drive %s declares LUKS device %s, but this sandbox's drive is a plain loop device: plan will report it absent. "+
				"Declare luks.verify with a tag, as examples/desired/homelab.cue does, to turn the check off in sandboxes.\n", name, l.LUKS.Device)
		}
	}
	fmt.Fprintf(g.stdout, "created %s with sample data\n\nnext: %s\n", humane.Count(len(layout.Subvolumes), "source subvolume"), next)
	return nil
}

func reportServices(g *globalOptions, d *schema.Desired) {
	for _, name := range d.ServiceNames() {
		svc := d.Services[name]
		what := map[string]string{schema.ServiceFiles: "sample configuration files", schema.ServiceSQLite: "a SQLite database",
			schema.ServicePrometheus: "a running Prometheus at " + svc.URL}[svc.Kind]
		fmt.Fprintf(g.stdout, "prepared service %s: %s\n", name, what)
	}
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

// luksOffTag turns a drive's LUKS check off in a sandbox, whose drive is a
// loop device, where the desired state declares the tag (never a default).
const luksOffTag = sandbox.LUKSOffTag
