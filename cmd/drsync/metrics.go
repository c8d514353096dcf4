package main

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/drsync/drsync/reconcile/planner"
	"github.com/drsync/drsync/render"
	"github.com/drsync/drsync/schema"
)

// metricsGatherer serves the backup metrics on watch's /metrics, observed
// at scrape time so ages are current.
func metricsGatherer(g *globalOptions, d *schema.Desired) prometheus.Gatherer {
	if d == nil {
		return nil
	}
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		now := time.Now()
		obs, err := observe(g, d, now)
		if err != nil {
			return nil, err
		}
		reg, err := render.Registry(planner.RenderInput(d, obs, now))
		if err != nil {
			return nil, err
		}
		return reg.Gather()
	})
}

func loggerFor(*globalOptions) *slog.Logger { return slog.Default() }
