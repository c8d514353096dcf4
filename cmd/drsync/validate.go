package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/schema"
	"github.com/spf13/cobra"
)

func newValidateCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the desired state against the schema",
		Long:  "Check the desired state against the embedded schema and the references between its entries. Errors name file:line:col. This is the command for CI.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runValidate(g)
		},
	}
}

// runValidate checks the desired state and reports every problem.
func runValidate(g *globalOptions) error {
	d, err := schema.Load(g.file, g.tags)
	if g.json {
		out := struct {
			Valid    bool             `json:"valid"`
			File     string           `json:"file"`
			Problems []schema.Problem `json:"problems,omitempty"`
			Warnings []string         `json:"warnings,omitempty"`
		}{Valid: err == nil, File: g.file}
		if d != nil {
			out.Warnings = d.Warnings()
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
	for _, w := range d.Warnings() {
		fmt.Fprintf(g.stderr, "warning: %s\n", w)
	}
	fmt.Fprintf(g.stdout, "%s: valid (%s, %s, %s, %s)\n", g.file, humane.Count(len(d.Subvolumes), "subvolume"),
		humane.Count(len(d.Services), "service"), humane.Count(len(d.Locations), "location"), humane.Count(len(d.Tiers), "tier"))
	return nil
}
