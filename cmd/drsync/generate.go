package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/reconcile/evidence"
	"github.com/drsync/drsync/reconcile/planner"
	"github.com/drsync/drsync/render"
)

func newGenerateCommand(g *globalOptions) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "generate --out DIR",
		Short: "Write every generated file (metrics, alert rules and their tests, dashboard, units, runbooks) under DIR",
		Long: "Renders the generated files from the desired state and the journal's evidence and writes them under DIR, " +
			"mirroring their declared paths, without touching anything else: for committing them to a monitoring repository.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGenerate(g, out)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to write into")
	cmd.MarkFlagRequired("out")
	return cmd
}

// runGenerate writes every generated file under out, touching nothing else.
func runGenerate(g *globalOptions, out string) error {
	d, obs, now, err := g.session().LoadObserved()
	if err != nil {
		return err
	}
	files, err := render.Files(planner.RenderInput(d, obs, now))
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		rel := strings.TrimPrefix(strings.TrimPrefix(p, d.Root), "/")
		dest := filepath.Join(out, rel)
		if err := evidence.WriteFile(dest, files[p]); err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "wrote %s\n", dest)
	}
	return nil
}
