package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/sandbox/demo"
)

func newDemoCommand(g *globalOptions) *cobra.Command {
	var o demo.Options
	var now string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Rehearse the embedded homelab example in a throwaway sandbox",
		Long: "Builds a loop-mounted btrfs sandbox for the embedded homelab example (or, where loop mounts are " +
			"impossible, plain directories, and says so), then runs plan, apply (snapshots, sends, restore tests, drills, generated " +
			"files), plan again, list and status, recovers a subvolume beside its source and the Prometheus service in place, and tears it down.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := parseNow(now)
			if err != nil {
				return err
			}
			o.Now, o.NowGiven = t, now != ""
			return demo.Run(o, demoStep(g), g.stdout)
		},
	}
	cmd.Flags().StringVar(&o.Dir, "dir", "", "where to build the sandbox (default: a new temporary directory)")
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "leave the sandbox in place to explore")
	cmd.Flags().BoolVar(&o.Plain, "plain", false, "use plain directories even where loop-mounted btrfs works")
	cmd.Flags().StringVar(&now, "now", "", "rehearse as if it started at this time (RFC 3339, or 2006-01-02T15:04 in local time)")
	return cmd
}

// demoStep returns the demo's runner of drsync commands: it prints each
// as a user would type it, then runs it in-process.
func demoStep(g *globalOptions) func(args ...string) error {
	return func(args ...string) error {
		fmt.Fprintf(g.stdout, "\n$ drsync %s\n", strings.Join(args, " "))
		if code := run(args, g.stdin, g.stdout, g.stdout); code != exitOK {
			return fmt.Errorf("drsync %s exited %d", args[0], code)
		}
		return nil
	}
}
