// Command drsync reconciles a machine's btrfs snapshots, replicas and
// restore evidence with a desired state written in CUE.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes, in one place (Terraform's convention for plan).
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2
)

// exitCodeError lets a command choose its exit code without printing.
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// globalOptions are the flags every command shares.
type globalOptions struct {
	file     string
	host     string
	tags     []string
	json     bool
	logLevel string
	storage  string
	profile  string
	stdout   io.Writer
	stderr   io.Writer
	stdin    io.Reader
}

func main() {
	// A plan over thousands of snapshots allocates briskly and lives for
	// milliseconds: collect less often, well within the 64 MiB budget. Past
	// a soft limit the collector works harder instead, so 100 subvolumes of
	// 1,000 snapshots stay under 128 MiB rather than grow to 5x their live
	// heap (GOMEMLIMIT in the environment still wins).
	debug.SetGCPercent(400)
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// memoryLimit is the soft limit past which the collector works harder.
const memoryLimit = 96 << 20

// collectOnlyNearLimit is for a command that reads, prints and exits
// within a second (plan): its garbage dies with the process, so the
// collector runs only as the heap nears the soft limit. At 6 × 1,000
// snapshots a plan then never collects (47 → 40 ms, peak RSS 45 → 47 MiB);
// at 100 × 1,000 the limit still holds it under 128 MiB. Not with a
// GOMEMLIMIT of the user's, which might be no limit at all.
func collectOnlyNearLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(-1)
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &globalOptions{stdout: stdout, stderr: stderr, stdin: stdin}
	root := newRootCommand(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	var ec exitCodeError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ec):
		return ec.code
	default:
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
}

func newRootCommand(g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:           "drsync",
		Short:         "Declarative btrfs snapshots, replication and proven recovery",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level})))
			if g.profile != "" {
				f, err := os.Create(g.profile)
				if err != nil {
					return err
				}
				return pprof.StartCPUProfile(f)
			}
			return nil
		},
		PersistentPostRun: func(*cobra.Command, []string) {
			if g.profile != "" {
				pprof.StopCPUProfile()
			}
		},
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&g.file, "file", "f", "drsync.cue", "desired-state file, or a directory of .cue files of one package")
	pf.StringArrayVarP(&g.tags, "tag", "t", nil, "inject a CUE tag, key=value (as cue export -t)")
	pf.StringVar(&g.host, "host", "", "in a fleet file (one that declares hosts), this machine's part (default: its hostname)")
	pf.BoolVar(&g.json, "json", false, "machine-readable output on stdout")
	pf.StringVar(&g.storage, "storage", "btrfs", "storage provider: btrfs, or dir for a plain-directory sandbox")
	pf.StringVar(&g.logLevel, "log-level", "warn", "log level on stderr: debug, info, warn, error")
	pf.StringVar(&g.profile, "cpuprofile", "", "write a CPU profile of the command to this file")
	pf.MarkHidden("cpuprofile")
	root.AddCommand(
		newValidateCommand(g),
		newPlanCommand(g),
		newObserveCommand(g),
		newListCommand(g),
		newStatusCommand(g),
		newTestCommand(g),
		newDrillCommand(g),
		newWatchCommand(g),
		newGenerateCommand(g),
		newFindCommand(g),
		newRestoreCommand(g),
		newRecoverCommand(g),
		newRehearseCommand(g),
		newDemoCommand(g),
		newApplyCommand(g),
		newSandboxCommand(g),
		newSchemaCommand(g),
		newFleetCommand(g),
		newOffsiteCommand(g),
		newReportCommand(g),
	)
	return root
}
