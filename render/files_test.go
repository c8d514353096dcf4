package render

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drsync/drsync/internal/golden"
	"github.com/drsync/drsync/render/alerts"
	"github.com/drsync/drsync/render/internal/fixture"
	"github.com/drsync/drsync/render/runbook"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

func TestGolden(t *testing.T) {
	files, err := Files(fixture.Input(t))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for path, got := range files {
		name := filepath.Base(path)
		if other, ok := seen[name]; ok {
			t.Fatalf("%s and %s share a golden file name", path, other)
		}
		seen[name] = path
		golden.Check(t, filepath.Join(fixture.GoldenDir, name), got)
	}
	entries, err := os.ReadDir(fixture.GoldenDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		// Directories hold other inputs' goldens (shapes/ for the runbooks).
		if _, ok := seen[e.Name()]; ok || e.IsDir() {
			continue
		}
		if golden.Update() {
			if err := os.Remove(filepath.Join(fixture.GoldenDir, e.Name())); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("stale golden file %s: no generated file has that name", e.Name())
	}
}

// TestFilesPaths checks Files keys every output by the path Generate
// declares, and leaves out what is disabled.
func TestFilesPaths(t *testing.T) {
	in := fixture.Input(t)
	g := in.Desired.Generate
	files, err := Files(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{g.Metrics, g.AlertRules, g.AlertTests, g.ScrapeConfig, g.Dashboard,
		filepath.Join(g.Systemd, view.ApplyService), filepath.Join(g.Systemd, view.ApplyTimer), filepath.Join(g.Systemd, view.WatchService),
		filepath.Join(g.Runbooks, runbook.System), filepath.Join(g.Runbooks, runbook.Pool),
		filepath.Join(g.Runbooks, runbook.Deletion), filepath.Join(g.Runbooks, runbook.Total)}
	for _, p := range want {
		if _, ok := files[p]; !ok {
			t.Errorf("missing %s", p)
		}
		if !filepath.IsAbs(p) {
			t.Errorf("%s is not absolute", p)
		}
	}
	if len(files) != len(want) {
		t.Errorf("got %d files, want %d", len(files), len(want))
	}

	in.Desired.Generate.Enabled.Runbooks = false
	in.Desired.Generate.Enabled.Metrics = false
	files, err = Files(in)
	if err != nil {
		t.Fatal(err)
	}
	for p := range files {
		if strings.HasPrefix(p, g.Runbooks) || p == g.Metrics {
			t.Errorf("disabled output %s rendered", p)
		}
	}
	rules, err := alerts.Rules(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rules), "runbook:") {
		t.Error("alert rules point to runbooks that are not generated")
	}
}

// Paths names exactly the files Files renders.
func TestPathsMatchFiles(t *testing.T) {
	in := fixture.Input(t)
	files, err := Files(in)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(maps.Keys(files))
	if diff := cmp.Diff(want, Paths(in.Desired)); diff != "" {
		t.Errorf("Paths differs from Files (-want +got):\n%s", diff)
	}
}

// TestAlertmanagerOnlyWhenDeclared: without alerting there is no file,
// and Paths and Files agree either way.
func TestAlertmanagerOnlyWhenDeclared(t *testing.T) {
	for _, d := range []*schema.Desired{fixture.Homelab(t), fixture.Alerting(t)} {
		files, err := Files(view.Input{Desired: d, Now: fixture.Now})
		if err != nil {
			t.Fatal(err)
		}
		_, written := files[d.Generate.Alertmanager]
		if written != (d.Alerting != nil) {
			t.Errorf("%s: alertmanager.yml written %v, alerting declared %v", d.Source, written, d.Alerting != nil)
		}
		listed := false
		for _, p := range Paths(d) {
			listed = listed || p == d.Generate.Alertmanager
		}
		if listed != written {
			t.Errorf("%s: Paths lists alertmanager.yml %v, Files writes it %v", d.Source, listed, written)
		}
	}
}
