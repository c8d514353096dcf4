package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/offsiteview"
	"github.com/drsync/drsync/prove"
	"github.com/drsync/drsync/providers/s3"
	"github.com/drsync/drsync/providers/ssh"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/target"
)

func newOffsiteCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "offsite",
		Short: "Off-site targets: the ssh forced-command filter, and what each target holds",
	}
	var filter offsiteFilterOptions
	filterCmd := &cobra.Command{
		Use:   "filter TARGET",
		Short: "Print the forced-command filter an ssh target's host runs for drsync's key",
		Long: `Print the shell script the backup host must run as the forced command of
drsync's key; it allows only drsync's verbs, only below the target's path.
With --public-key, print the authorized_keys line instead:

  drsync offsite filter backuphost > /usr/local/libexec/drsync-ssh-filter      # on the host
  drsync offsite filter backuphost --public-key /etc/drsync/id_ed25519.pub >> /root/.ssh/authorized_keys`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			filter.target = args[0]
			return runOffsiteFilter(g, filter)
		},
	}
	filterCmd.Flags().StringVar(&filter.publicKey, "public-key", "", "drsync's public key (.pub): print its authorized_keys line")
	filterCmd.Flags().StringVar(&filter.installPath, "install-path", "/usr/local/libexec/drsync-ssh-filter", "where the filter is installed on the host")
	listCmd := &cobra.Command{
		Use:   "list [TARGET]",
		Short: "Probe each off-site target and list the copies it holds",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			only := ""
			if len(args) == 1 {
				only = args[0]
			}
			return runOffsiteList(cmd.Context(), g, only)
		},
	}
	var test offsiteTestOptions
	testCmd := &cobra.Command{
		Use:   "test TARGET SUBVOLUME",
		Short: "Restore-test the newest off-site copy of a subvolume",
		Long: `Fetch the newest restorable copy of SUBVOLUME from TARGET into scratch
(for S3: download the chain, check each stream's SHA-256, decrypt with the
declared age identity, btrfs receive), then sample and verify files against
it and against the local snapshot of the same name, as drsync test does.
Exit 0 when it passed, 1 when it failed or could not run.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			test.target, test.subvolume = args[0], args[1]
			return runOffsiteTest(cmd.Context(), g, test)
		},
	}
	testCmd.Flags().IntVar(&test.sampleSize, "sample-size", 0, "files to sample (default: the tier's)")
	testCmd.Flags().StringVar(&test.identity, "identity", "", "age identity file to decrypt with (default: the target's identityFile)")
	cmd.AddCommand(filterCmd, listCmd, testCmd)
	return cmd
}

type offsiteTestOptions struct {
	target, subvolume, identity string
	sampleSize                  int
}

// runOffsiteTest fetches the newest off-site copy into the subvolume's
// drill directory (btrfs, beside its snapshots) and proves it.
func runOffsiteTest(ctx context.Context, g *globalOptions, o offsiteTestOptions) error {
	d, err := schema.Load(g.file, g.tags)
	if err != nil {
		return err
	}
	s, ok := d.Subvolumes[o.subvolume]
	if !ok {
		return fmt.Errorf("no subvolume %q in %s", o.subvolume, g.file)
	}
	if _, ok := s.Offsite[o.target]; !ok {
		return fmt.Errorf("subvolume %s does not send to target %q", o.subvolume, o.target)
	}
	tgt, err := openTarget(d, o.target)
	if err != nil {
		return err
	}
	if s3t, ok := tgt.(*s3.Target); ok && o.identity != "" {
		s3t.UseIdentity(o.identity)
	}
	copies, err := tgt.List(ctx, o.subvolume)
	if err != nil {
		return err
	}
	var newest string
	for _, c := range copies {
		if c.Restorable() {
			newest = c.Name
		}
	}
	if newest == "" {
		return fmt.Errorf("target %s holds no restorable copy of %s", o.target, o.subvolume)
	}
	fetch := filepath.Join(d.DrillDir(s), "offsite-"+o.target)
	if err := os.MkdirAll(fetch, 0o700); err != nil {
		return err
	}
	tree, cleanup, err := tgt.Open(ctx, o.subvolume, newest, fetch)
	if err != nil {
		return fmt.Errorf("fetch %s from %s: %w", newest, o.target, err)
	}
	defer func() {
		if err := cleanup(); err != nil {
			fmt.Fprintf(g.stderr, "warning: %v\n", err)
		}
	}()
	st, err := newStorage(g)
	if err != nil {
		return err
	}
	size := o.sampleSize
	if size == 0 {
		size = d.Tiers[s.Tier].RestoreTest.SampleSize
	}
	reference := filepath.Join(d.SnapshotDir(s.Snapshots.Location, s.Name), newest)
	if _, err := os.Lstat(reference); err != nil {
		reference = ""
	}
	rep, err := prove.New(st, d).Prove(ctx, model.TestRequest{Kind: model.KindTest, Subvolume: s.Name, Snapshot: newest,
		Copy: tree, Location: o.target, Reference: reference, SampleSize: size, Seed: time.Now().UnixNano() % 1e9,
		Scratch: d.Restore.Scratch}, nil)
	if err != nil {
		return err
	}
	if g.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(g.stdout, "%s %s from %s: %d files verified: %s\n", s.Name, newest, o.target, rep.Files, rep.Result)
		for _, f := range rep.Failures {
			fmt.Fprintf(g.stdout, "  %s: %s\n", f.Path, f.Check)
		}
	}
	if rep.Result == model.ResultFail {
		return exitCodeError{exitError}
	}
	return nil
}

type offsiteFilterOptions struct {
	target, publicKey, installPath string
}

func runOffsiteFilter(g *globalOptions, o offsiteFilterOptions) error {
	d, err := schema.Load(g.file, g.tags)
	if err != nil {
		return err
	}
	t, ok := d.Targets[o.target]
	if !ok || t.Kind != schema.TargetSSH {
		return fmt.Errorf("%q is not an ssh target of %s (ssh targets: %v)", o.target, g.file, sshTargets(d))
	}
	if o.publicKey == "" {
		_, err := g.stdout.Write(ssh.Filter(o.target, t.Path))
		return err
	}
	pub, err := os.ReadFile(o.publicKey)
	if err != nil {
		return fmt.Errorf("--public-key: %w", err)
	}
	_, err = fmt.Fprintln(g.stdout, ssh.AuthorizedKey(filepath.Clean(o.installPath), string(pub)))
	return err
}

func sshTargets(d *schema.Desired) []string {
	var out []string
	for _, name := range d.TargetNames() {
		if d.Targets[name].Kind == schema.TargetSSH {
			out = append(out, name)
		}
	}
	return out
}

// openTarget connects to a declared target.
func openTarget(d *schema.Desired, name string) (target.Target, error) {
	t := d.Targets[name]
	switch t.Kind {
	case schema.TargetSSH:
		return ssh.New(name, t), nil
	case schema.TargetS3:
		return s3.New(name, t)
	}
	return nil, fmt.Errorf("target %s: unknown kind %q", name, t.Kind)
}

func runOffsiteList(ctx context.Context, g *globalOptions, only string) error {
	d, err := schema.Load(g.file, g.tags)
	if err != nil {
		return err
	}
	if only != "" {
		if _, ok := d.Targets[only]; !ok {
			return fmt.Errorf("no target %q in %s (declared: %v)", only, g.file, d.TargetNames())
		}
	}
	var out []offsiteview.Listing
	failed := false
	for _, name := range d.TargetNames() {
		if only != "" && name != only {
			continue
		}
		l := offsiteview.List(ctx, d, name, openTarget)
		if l.Problem != "" && l.Reachable {
			failed = true
		}
		out = append(out, l)
	}
	if g.json {
		if err := writeJSON(g.stdout, out); err != nil {
			return err
		}
	} else {
		offsiteview.Write(g.stdout, out)
	}
	if failed {
		return exitCodeError{exitError}
	}
	return nil
}
