package model

import (
	"fmt"
	"path/filepath"
)

// Shrunk compares the newest local snapshot with the one before it
// (issue 15): when it holds less than below of that one's entries (a pool
// that was not mounted is snapshotted as an empty directory) it says so
// with the counts, else "". Counts stop at HealthLimit, as Disaster's do.
func (st *SubvolumeState) Shrunk(below float64) string {
	h := st.Health
	if h == nil || h.Error != "" || h.Previous == "" || h.PreviousEntries == 0 || below <= 0 {
		return ""
	}
	if float64(h.ReferenceEntries) >= below*float64(h.PreviousEntries) {
		return ""
	}
	return fmt.Sprintf("newest snapshot %s holds %d entries, %d%% of the %d in %s",
		filepath.Base(h.Reference), h.ReferenceEntries, 100*h.ReferenceEntries/h.PreviousEntries, h.PreviousEntries, filepath.Base(h.Previous))
}
