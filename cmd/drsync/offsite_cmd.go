package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/offsiteview"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/session"
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
	var test offsiteview.TestRequest
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
			test.Target, test.Subvolume = args[0], args[1]
			return runOffsiteTest(cmd.Context(), g, test)
		},
	}
	testCmd.Flags().IntVar(&test.SampleSize, "sample-size", 0, "files to sample (default: the tier's)")
	testCmd.Flags().StringVar(&test.Identity, "identity", "", "age identity file to decrypt with (default: the target's identityFile)")
	cmd.AddCommand(filterCmd, listCmd, testCmd)
	return cmd
}

// runOffsiteTest proves the newest off-site copy of a subvolume.
func runOffsiteTest(ctx context.Context, g *globalOptions, o offsiteview.TestRequest) error {
	rep, err := offsiteview.Test(ctx, g.session(), o, g.stderr)
	if err != nil {
		return err
	}
	if g.json {
		if err := writeJSON(g.stdout, rep); err != nil {
			return err
		}
	} else {
		offsiteview.WriteTest(g.stdout, rep)
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
	out, err := offsiteview.Filter(d, g.file, o.target, o.publicKey, o.installPath)
	if err != nil {
		return err
	}
	_, err = g.stdout.Write(out)
	return err
}

func runOffsiteList(ctx context.Context, g *globalOptions, only string) error {
	d, err := schema.Load(g.file, g.tags)
	if err != nil {
		return err
	}
	out, failed, err := offsiteview.ListAll(ctx, d, g.file, only, session.OpenTarget)
	if err != nil {
		return err
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
