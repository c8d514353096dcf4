package model

import (
	"path/filepath"
	"sort"
	"time"

	"github.com/drsync/drsync/snapname"
)

// foreignNames turns foreign entries into names a new snapshot must avoid.
func ForeignNames(paths []string) []Snapshot {
	out := make([]Snapshot, len(paths))
	for i, p := range paths {
		out[i] = Snapshot{Name: filepath.Base(p)}
	}
	return out
}

// Replicas keeps the complete replicas: received and read-only.
func Replicas(s []Snapshot) []Snapshot {
	var out []Snapshot
	for _, r := range s {
		if r.ReceivedUUID != "" && r.ReadOnly {
			out = append(out, r)
		}
	}
	return out
}

func SortSnapshots(s []Snapshot) {
	sort.SliceStable(s, func(i, j int) bool {
		return snapname.Less(snapname.Stamp{Time: s[i].Time, Seq: s[i].Seq}, snapname.Stamp{Time: s[j].Time, Seq: s[j].Seq})
	})
}

func NewestTime(s []Snapshot) time.Time {
	if len(s) == 0 {
		return time.Time{}
	}
	return s[len(s)-1].Time
}

func LastName(s []Snapshot) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1].Name
}

// HasName reports whether s holds a snapshot of that name.
func HasName(s []Snapshot, name string) bool {
	for _, x := range s {
		if x.Name == name {
			return true
		}
	}
	return false
}
