package statusview

import (
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

// CoverageRow is one copy's coverage in `drsync status`.
type CoverageRow struct {
	Location      string  `json:"location"`
	Snapshot      string  `json:"snapshot"`
	WindowSeconds float64 `json:"windowSeconds"`
	Files         int64   `json:"files"`
	VerifiedFiles int64   `json:"verifiedFiles"`
	Bytes         int64   `json:"bytes"`
	VerifiedBytes int64   `json:"verifiedBytes"`
	FileShare     float64 `json:"fileShare"`
	ByteShare     float64 `json:"byteShare"`
	// Line is the human line: "verified within 90d: 100% of files, 100%
	// of bytes", or the shortfall.
	Line string `json:"line"`
}

// coverageRows turns the rendered coverage of a subvolume or service of
// tier into status rows, so status and the metrics share one derivation.
func coverageRows(d *schema.Desired, tier string, cov []view.CopyCoverage) []CoverageRow {
	if d.Tiers[tier].RestoreTest.Coverage == nil {
		return nil
	}
	window := d.Tiers[tier].RestoreTest.Coverage.Duration
	var out []CoverageRow
	for _, c := range cov {
		out = append(out, CoverageRow{Location: c.Location, Snapshot: c.Snapshot, WindowSeconds: window.Seconds(),
			Files: c.Files, VerifiedFiles: c.VerifiedFiles, Bytes: c.Bytes, VerifiedBytes: c.VerifiedBytes,
			FileShare: c.FileShare(), ByteShare: c.ByteShare(), Line: c.Line(window)})
	}
	return out
}
