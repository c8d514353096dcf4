package main

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/reports"
	"github.com/drsync/drsync/statusview"
)

func newStatusCommand(g *globalOptions) *cobra.Command {
	var now string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each subvolume's newest snapshot, newest verified-restorable point and last test and drill",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(g, now)
		},
	}
	cmd.Flags().StringVar(&now, "now", "", "report as if it were this time (RFC 3339, or 2006-01-02T15:04 in local time)")
	return cmd
}

// runStatus shows each subvolume's and service's newest copies and evidence.
func runStatus(g *globalOptions, at string) error {
	now, err := parseNow(at)
	if err != nil {
		return err
	}
	d, err := g.session().Load()
	if err != nil {
		return err
	}
	obs, err := g.session().Observe(d, now)
	if err != nil {
		return err
	}
	rows := statusview.Rows(d, obs, now)
	newest, err := reports.NewestByName(d.StateDir)
	if err != nil {
		slog.Warn("reading reports", "err", err)
	}
	for i := range rows {
		rows[i].Report = newest[rows[i].Name].Text
	}
	if g.json {
		return writeJSON(g.stdout, rows)
	}
	statusview.Write(g.stdout, d, rows, now)
	return nil
}
