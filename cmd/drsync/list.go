package main

import (
	"github.com/spf13/cobra"

	"github.com/drsync/drsync/statusview"
)

func newListCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the snapshots and replicas that exist, per subvolume",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(g)
		},
	}
}

// runList shows what exists where.
func runList(g *globalOptions) error {
	d, obs, now, err := g.session().LoadObserved()
	if err != nil {
		return err
	}
	l := statusview.List(d, obs)
	if g.json {
		return writeJSON(g.stdout, l)
	}
	l.WriteText(g.stdout, d, now)
	return nil
}
