package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/schema"
)

func newValidateCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the desired state against the schema",
		Long:  "Check the desired state against the embedded schema and the references between its entries; in a fleet file, every host. Errors name file:line:col. This is the command for CI.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runValidate(g)
		},
	}
}

// runValidate checks the desired state (every host of a fleet file) and
// reports every problem.
func runValidate(g *globalOptions) error {
	all, err := schema.LoadFleet(g.file, g.tags)
	hosts := slices.Sorted(maps.Keys(all))
	warnings := func(h string) []string {
		ws := all[h].Warnings()
		if h != "" {
			for i := range ws {
				ws[i] = "host " + h + ": " + ws[i]
			}
		}
		return ws
	}
	if g.json {
		out := struct {
			Valid    bool             `json:"valid"`
			File     string           `json:"file"`
			Hosts    []string         `json:"hosts,omitempty"`
			Problems []schema.Problem `json:"problems,omitempty"`
			Warnings []string         `json:"warnings,omitempty"`
		}{Valid: err == nil, File: g.file}
		for _, h := range hosts {
			if h != "" {
				out.Hosts = append(out.Hosts, h)
			}
			out.Warnings = append(out.Warnings, warnings(h)...)
		}
		var se *schema.Error
		if errors.As(err, &se) {
			out.Problems = se.Problems
		} else if err != nil {
			out.Problems = []schema.Problem{{Message: err.Error()}}
		}
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(out); jerr != nil {
			return jerr
		}
		if err != nil {
			return exitCodeError{exitError}
		}
		return nil
	}
	if err != nil {
		return err
	}
	for _, h := range hosts {
		for _, w := range warnings(h) {
			fmt.Fprintf(g.stderr, "warning: %s\n", w)
		}
		d, name := all[h], g.file
		if h != "" {
			name += ": host " + h
		}
		fmt.Fprintf(g.stdout, "%s: valid (%s, %s, %s, %s)\n", name, humane.Count(len(d.Subvolumes), "subvolume"),
			humane.Count(len(d.Services), "service"), humane.Count(len(d.Locations), "location"), humane.Count(len(d.Tiers), "tier"))
	}
	return nil
}
