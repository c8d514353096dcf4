package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/reports"
)

func newReportCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "report [NAME]",
		Short: "Print the newest test, drill, recovery or rehearsal report (of NAME: a subvolume, service or runbook)",
		Long: "Every restore test, drill, recovery and rehearsal writes its report into <stateDir>/reports, as text " +
			"(<kind>-<time>.log) and JSON (<kind>-<time>.json), kept for reports.keep. This prints the newest one, " +
			"or the newest that names NAME; --json prints its JSON.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return runReport(g, name)
		},
	}
}

// runReport prints the newest report (naming name, when given).
func runReport(g *globalOptions, name string) error {
	d, err := g.session().Load()
	if err != nil {
		return err
	}
	r, ref, ok, err := reports.Latest(d.StateDir, name)
	if err != nil {
		return err
	}
	if !ok {
		what := "no report yet"
		if name != "" {
			what = fmt.Sprintf("no report names %q", name)
		}
		return fmt.Errorf("%s in %s/%s: tests, drills, recoveries and rehearsals write them", what, d.StateDir, reports.Dir)
	}
	if g.json {
		return writeJSON(g.stdout, r)
	}
	fmt.Fprintf(g.stdout, "%s\n\n", ref.Text)
	return reports.WriteText(g.stdout, r)
}
