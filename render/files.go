// Package render turns the desired state and the recorded evidence of
// backups, restore tests and drills into the files drsync generates for
// monitoring and operations: the node_exporter textfile, Prometheus alert
// rules and their unit tests (package alerts), a scrape config, a Grafana
// dashboard (package dashboard), an Alertmanager configuration (package
// alertmanager), systemd units and disaster-recovery runbooks (package
// runbook). Every renderer works from a view.Input.
//
// Every function is pure: it returns bytes and touches nothing, so plan can
// diff the output against what is on disk and apply can write it.
package render

import (
	"path/filepath"
	"slices"

	"github.com/drsync/drsync/render/alertmanager"
	"github.com/drsync/drsync/render/alerts"
	"github.com/drsync/drsync/render/dashboard"
	"github.com/drsync/drsync/render/runbook"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

// Files returns every enabled generated file keyed by its absolute output
// path, so that plan and apply treat each one as a resource.
func Files(in view.Input) (map[string][]byte, error) { return files(in, true) }

// PlannedFiles is Files without the metrics textfile, which every run
// rewrites rather than plans.
func PlannedFiles(in view.Input) (map[string][]byte, error) { return files(in, false) }

func files(in view.Input, metrics bool) (map[string][]byte, error) {
	if err := view.Check(in); err != nil {
		return nil, err
	}
	g := in.Desired.Generate
	out := map[string][]byte{}
	single := []struct {
		on     bool
		path   string
		render func(view.Input) ([]byte, error)
	}{
		{g.Enabled.Metrics && metrics, g.Metrics, Metrics},
		{g.Enabled.AlertRules, g.AlertRules, alerts.Rules},
		{g.Enabled.AlertRules, g.AlertTests, alerts.RuleTests},
		{g.Enabled.ScrapeConfig, g.ScrapeConfig, ScrapeConfig},
		{g.Enabled.Dashboard, g.Dashboard, dashboard.Render},
		{g.Enabled.Alertmanager && in.Desired.Alerting != nil, g.Alertmanager, alertmanager.Config},
	}
	for _, s := range single {
		if !s.on {
			continue
		}
		b, err := s.render(in)
		if err != nil {
			return nil, err
		}
		out[s.path] = b
	}
	multi := []struct {
		on     bool
		dir    string
		render func(view.Input) (map[string][]byte, error)
	}{
		{g.Enabled.Systemd, g.Systemd, SystemdUnits},
		{g.Enabled.Runbooks, g.Runbooks, runbook.Render},
	}
	for _, m := range multi {
		if !m.on {
			continue
		}
		files, err := m.render(in)
		if err != nil {
			return nil, err
		}
		for name, b := range files {
			out[filepath.Join(m.dir, name)] = b
		}
	}
	return out, nil
}

// Paths lists the enabled generated files' paths without rendering them,
// for observing what is on disk.
func Paths(d *schema.Desired) []string {
	g := d.Generate
	var out []string
	add := func(on bool, paths ...string) {
		if on {
			out = append(out, paths...)
		}
	}
	add(g.Enabled.Metrics, g.Metrics)
	add(g.Enabled.AlertRules, g.AlertRules, g.AlertTests)
	add(g.Enabled.ScrapeConfig, g.ScrapeConfig)
	add(g.Enabled.Dashboard, g.Dashboard)
	add(g.Enabled.Alertmanager && d.Alerting != nil, g.Alertmanager)
	for _, u := range []string{view.ApplyService, view.ApplyTimer, view.WatchService} {
		add(g.Enabled.Systemd, filepath.Join(g.Systemd, u))
	}
	for _, r := range []string{runbook.System, runbook.Pool, runbook.Deletion, runbook.Total} {
		add(g.Enabled.Runbooks, filepath.Join(g.Runbooks, r))
	}
	slices.Sort(out)
	return out
}
