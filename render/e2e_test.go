package render

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/render/alerts"
	"github.com/drsync/drsync/render/internal/fixture"
)

// TestEndToEndPrometheus runs a real node_exporter serving the metrics
// textfile and a real Prometheus scraping it with the generated scrape
// config and rules, on loopback with one-second intervals, and waits for
// RestoreTestFailed (subvol3-opptak's newest test failed) and
// RestoreTestOverdue (subvol7-containers was never tested: no sample at
// all) to become pending.
func TestEndToEndPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus and node_exporter")
	}
	stack := promtest.NewStack(t)
	dir := t.TempDir()
	in := fixture.Input(t)
	in.Now = time.Now()
	in.Desired.Generate.NodeExporter = stack.NodeAddr
	metrics, err := Metrics(in)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := alerts.Rules(in)
	if err != nil {
		t.Fatal(err)
	}
	scrape, err := ScrapeConfig(in)
	if err != nil {
		t.Fatal(err)
	}
	fixture.WriteFile(t, filepath.Join(dir, "textfile", "drsync.prom"), metrics)
	fixture.WriteFile(t, filepath.Join(dir, "rules.yml"), rules)
	stack.Start(t, filepath.Join(dir, "textfile"), filepath.Join(dir, "rules.yml"), scrape)
	stack.WaitAlerts(t, []string{"RestoreTestFailed/subvol3-opptak", "RestoreTestOverdue/subvol7-containers"}, 60*time.Second)
}
