package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/watch"
)

type watchOptions struct {
	repo, branch, path string
	workDir            string
	interval           time.Duration
	listen             string
	secretFile         string
	apply              bool
	// logLevelSet says --log-level was given; watch logs at info otherwise.
	logLevelSet bool
}

func newWatchCommand(g *globalOptions) *cobra.Command {
	var o watchOptions
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Reconcile continuously: on a git push, on a change of the file, and on a timer",
		Long: "Follows a git repository (--repo, --branch, --path) or a local file or directory (-f/--file), validates each " +
			"new revision before anything runs (a broken revision is never applied; the last good one stays in force), and " +
			"reconciles on every new revision, on POST /hook with a valid X-Hub-Signature-256, and every --interval, so due " +
			"snapshots, tests and prunes happen on time. Serves /metrics, /healthz and /status on --listen (loopback by default).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.logLevelSet = cmd.Flags().Changed("log-level")
			return runWatch(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.repo, "repo", "", "git repository (URL or local path) holding the desired state")
	f.StringVar(&o.branch, "branch", watch.DefaultBranch, "branch to follow")
	f.StringVar(&o.path, "path", watch.DefaultPath, "path of the desired-state file or directory inside the repository")
	f.StringVar(&o.workDir, "work-dir", "/var/lib/drsync/watch", "where watch keeps its checkouts")
	f.DurationVar(&o.interval, "interval", watch.DefaultInterval, "poll and reconcile interval")
	f.StringVar(&o.listen, "listen", watch.DefaultListen, "address for /metrics, /healthz, /status and POST /hook")
	f.StringVar(&o.secretFile, "webhook-secret-file", "", "file holding the HMAC-SHA256 secret for POST /hook (disabled without)")
	f.BoolVar(&o.apply, "apply", true, "apply changes; --apply=false only plans and reports drift")
	return cmd
}

// runWatch follows the desired state and reconciles until ctx ends.
func runWatch(ctx context.Context, g *globalOptions, o watchOptions) error {
	// A service's log is its only voice: revisions applied, errors.
	if !o.logLevelSet {
		slog.SetDefault(slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	}
	opts := watch.Options{Repo: o.repo, Branch: o.branch, Path: o.path, WorkDir: o.workDir,
		Interval: o.interval, Listen: o.listen, Apply: o.apply, Logger: slog.Default()}
	if o.repo == "" {
		opts.File = g.file
	}
	if o.secretFile != "" {
		secret, err := os.ReadFile(o.secretFile)
		if err != nil {
			return fmt.Errorf("--webhook-secret-file: %w", err)
		}
		opts.WebhookSecret = []byte(strings.TrimSpace(string(secret)))
		if len(opts.WebhookSecret) == 0 {
			return fmt.Errorf("--webhook-secret-file %s is empty", o.secretFile)
		}
	}
	w, err := watch.New(opts, watch.NewPipeline(ctx, g.session(), opts.File))
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stderr, "drsync watch: serving /metrics, /healthz, /status on %s\n", o.listen)
	return w.Run(ctx)
}
