package render

import (
	"strings"
	"testing"
	"time"
)

// TestCoverageOnlyWhenDeclared: without a coverage window there is no
// coverage alert, panel or metric.
func TestCoverageOnlyWhenDeclared(t *testing.T) {
	in := fixedInput(t)
	in.Desired = homelab(t)
	for _, a := range alerts(in) {
		if a.name == "CoverageBelowTarget" {
			t.Error("CoverageBelowTarget without a declared window")
		}
	}
	b, err := Metrics(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "backup_coverage") {
		t.Error("coverage metrics without a declared window")
	}
}

func TestCoverageLine(t *testing.T) {
	window := 90 * 24 * time.Hour
	for _, c := range []struct {
		cov  CopyCoverage
		want string
	}{
		{CopyCoverage{Files: 10, VerifiedFiles: 10, Bytes: 100, VerifiedBytes: 100}, "verified within 90d: 100% of files, 100% of bytes"},
		{CopyCoverage{}, "verified within 90d: 100% of files, 100% of bytes"},
		{CopyCoverage{Files: 1000, VerifiedFiles: 999, Bytes: 1 << 30, VerifiedBytes: 1 << 29},
			"verified within 90d: 99% of files, 50% of bytes (1 of 1000 files, 512.0 MiB of 1.0 GiB unverified)"},
	} {
		if got := c.cov.Line(window); got != c.want {
			t.Errorf("Line = %q, want %q", got, c.want)
		}
	}
}
