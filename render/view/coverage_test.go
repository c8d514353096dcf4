package view

import (
	"testing"
	"time"
)

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
