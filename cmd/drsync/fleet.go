package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/fleet"
)

type fleetStatusOptions struct {
	prometheus string
}

func newFleetCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fleet",
		Short: "Many machines at once, through the Prometheus that scrapes them",
	}
	var opts fleetStatusOptions
	status := &cobra.Command{
		Use:   "status",
		Short: "Every host's newest snapshot, newest verified copy, last test and drill, and firing alerts",
		Long: "Ask Prometheus, which scrapes every host's drsync metrics, for each host's newest snapshot, newest verified copy " +
			"(the real RPO) against its target, last restore test and drill, and firing drsync alerts. " +
			"Exits 2 when any host breaks its RPO, 1 when Prometheus cannot answer.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runFleetStatus(cmd.Context(), g, opts) },
	}
	status.Flags().StringVar(&opts.prometheus, "prometheus", "http://localhost:9090", "Prometheus URL")
	cmd.AddCommand(status)
	return cmd
}

func runFleetStatus(ctx context.Context, g *globalOptions, opts fleetStatusOptions) error {
	r, err := fleet.Status(ctx, fleet.Prometheus{URL: opts.prometheus}, time.Now())
	if err != nil {
		return fmt.Errorf("fleet status from %s: %w", opts.prometheus, err)
	}
	r.Prometheus = opts.prometheus
	if g.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(r)
	} else {
		err = r.WriteText(g.stdout)
	}
	if err != nil {
		return err
	}
	if r.RPOBroken() {
		return exitCodeError{exitChanges}
	}
	return nil
}
