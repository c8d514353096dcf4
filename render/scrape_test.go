package render

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/render/alerts"
	"github.com/drsync/drsync/render/internal/fixture"
)

// TestScrapeConfigPromtool embeds the snippet in a minimal prometheus.yml,
// with the generated rule file, and has promtool check it.
func TestScrapeConfigPromtool(t *testing.T) {
	promtool := promtest.Tool(t, "promtool", "prometheus")
	in := fixture.Input(t)
	scrape, err := ScrapeConfig(in)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := alerts.Rules(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(scrape), "regex: backup_.*|drsync_.*") || !strings.Contains(string(scrape), "action: keep") {
		t.Errorf("scrape config does not keep only drsync's metrics:\n%s", scrape)
	}
	dir := t.TempDir()
	fixture.WriteFile(t, filepath.Join(dir, "rules.yml"), rules)
	fixture.WriteFile(t, filepath.Join(dir, "prometheus.yml"), append([]byte("global:\n  scrape_interval: 1m\nrule_files:\n  - rules.yml\n"), scrape...))
	fixture.Run(t, dir, promtool, "check", "config", "prometheus.yml")
}
