package health

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/drsync/drsync/internal/humane"
)

// ShrinkMinBytes is the fewest bytes a tree must hold for a share of its
// bytes gone to say anything: in a smaller one, editing a single file
// swings the share.
const ShrinkMinBytes = 64 << 10

// Shrunk compares the newest local snapshot with the one before it, and
// the source with its newest snapshot (issue 15): the newest snapshot
// holding less than below of the previous one's entries or bytes (a pool
// that was not mounted is snapshotted as an empty directory), or the
// source less than below of its newest snapshot's bytes (files still
// there, their content gone), is said with the counts; else "". The
// source's entries are model.SubvolumeState.Disaster's to judge. Counts
// stop at Limit entries per tree, as Disaster's do. A nil h (a source not
// inspected) says nothing.
func (h *Source) Shrunk(below float64) string {
	if h == nil || h.Error != "" || below <= 0 {
		return ""
	}
	var parts []string
	if h.Previous != "" {
		var lost []string
		if h.PreviousEntries > 0 && float64(h.ReferenceEntries) < below*float64(h.PreviousEntries) {
			lost = append(lost, fmt.Sprintf("%d entries, %d%% of the %d", h.ReferenceEntries, 100*h.ReferenceEntries/h.PreviousEntries, h.PreviousEntries))
		}
		if bytesGone(h.ReferenceBytes, h.PreviousBytes, below) {
			lost = append(lost, bytesShare(h.ReferenceBytes, h.PreviousBytes))
		}
		if len(lost) > 0 {
			parts = append(parts, fmt.Sprintf("newest snapshot %s holds %s in %s",
				filepath.Base(h.Reference), strings.Join(lost, " and "), filepath.Base(h.Previous)))
		}
	}
	if h.Reference != "" && bytesGone(h.Bytes, h.ReferenceBytes, below) {
		parts = append(parts, fmt.Sprintf("the source holds %s in %s", bytesShare(h.Bytes, h.ReferenceBytes), filepath.Base(h.Reference)))
	}
	return strings.Join(parts, "; ")
}

// bytesGone reports whether now holds less than below of was, a tree of
// at least ShrinkMinBytes.
func bytesGone(now, was int64, below float64) bool {
	return was >= ShrinkMinBytes && float64(now) < below*float64(was)
}

// bytesShare says "1.0 KiB, 3% of the 40.0 KiB".
func bytesShare(now, was int64) string {
	return fmt.Sprintf("%s, %d%% of the %s", humane.Bytes(now), 100*now/was, humane.Bytes(was))
}
