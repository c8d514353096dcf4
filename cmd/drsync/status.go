package main

import (
	"github.com/spf13/cobra"

	"github.com/drsync/drsync/report"
)

func newStatusCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show each subvolume's newest snapshot, newest verified-restorable point and last test and drill",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(g)
		},
	}
}

// runStatus shows each subvolume's and service's newest copies and evidence.
func runStatus(g *globalOptions) error {
	d, obs, now, err := loadObserved(g)
	if err != nil {
		return err
	}
	rows := report.StatusRows(d, obs, now)
	if g.json {
		return writeJSON(g.stdout, rows)
	}
	report.WriteStatus(g.stdout, d, rows, now)
	return nil
}
