package view

import (
	"fmt"
	"time"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/schema"
)

// CopyCoverage is how much of one copy of a subvolume (its local
// snapshots, or its replicas on a drive) or of a service (its archives'
// copies on the drive, else its local archives) restore tests verified
// within the tier's coverage window: the files and bytes of its newest snapshot, and
// how many of them a slice verified, against that snapshot or an older one
// they are unchanged since.
type CopyCoverage struct {
	Location string
	External bool
	Snapshot string
	// Files and Bytes are the newest snapshot's; VerifiedFiles and
	// VerifiedBytes the part of them verified within the window.
	Files, VerifiedFiles int64
	Bytes, VerifiedBytes int64
}

// FileShare is the verified share of files; a copy without files is
// wholly verified, there being nothing to prove.
func (c CopyCoverage) FileShare() float64 { return share(c.VerifiedFiles, c.Files) }

// ByteShare is the verified share of bytes.
func (c CopyCoverage) ByteShare() float64 { return share(c.VerifiedBytes, c.Bytes) }

func share(part, whole int64) float64 {
	if whole <= 0 {
		return 1
	}
	return float64(part) / float64(whole)
}

// Line is the status line of a copy: "verified within 90d: 100% of files,
// 100% of bytes" or the shortfall in counts.
func (c CopyCoverage) Line(window time.Duration) string {
	line := fmt.Sprintf("verified within %s: %s of files, %s of bytes", schema.FormatDuration(window), percent(c.FileShare()), percent(c.ByteShare()))
	if c.VerifiedFiles < c.Files || c.VerifiedBytes < c.Bytes {
		line += fmt.Sprintf(" (%d of %d files, %s of %s unverified)", c.Files-c.VerifiedFiles, c.Files,
			humane.Bytes(c.Bytes-c.VerifiedBytes), humane.Bytes(c.Bytes))
	}
	return line
}

// percent rounds down, so a copy short of a single file never shows 100%.
func percent(f float64) string {
	p := int(f * 100)
	if f < 1 && p == 100 {
		p = 99
	}
	return fmt.Sprintf("%d%%", p)
}

// CoverageOf is a subvolume's declared window and target (zero window:
// none declared).
func CoverageOf(d *schema.Desired, s Subvolume) (window time.Duration, target float64) {
	rt := d.Tiers[s.Tier].RestoreTest
	if rt.Coverage == nil {
		return 0, 0
	}
	return rt.Coverage.Duration, rt.CoverageAlertBelow
}

// AnyCoverage reports whether some tier used by a subvolume or service
// declares a coverage window: the alert, its tests and the panel exist
// only then.
func AnyCoverage(in Input) bool {
	for _, s := range Tracked(in) {
		if w, _ := CoverageOf(in.Desired, s); w > 0 {
			return true
		}
	}
	return false
}
