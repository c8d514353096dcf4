package render

import (
	"strings"
	"testing"

	"github.com/drsync/drsync/render/alerts"
	"github.com/drsync/drsync/render/internal/fixture"
)

// TestCoverageOnlyWhenDeclared: without a coverage window there is no
// coverage alert, panel or metric.
func TestCoverageOnlyWhenDeclared(t *testing.T) {
	in := fixture.Input(t)
	in.Desired = fixture.Homelab(t)
	rules, err := alerts.Rules(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rules), "CoverageBelowTarget") {
		t.Error("CoverageBelowTarget without a declared window")
	}
	b, err := Metrics(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "backup_coverage") {
		t.Error("coverage metrics without a declared window")
	}
}
