package recovery

import (
	"cmp"
	"path/filepath"
	"strings"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// Check is one line of a recovery checklist.
type Check struct {
	Name   string       `json:"name"`
	Result model.Result `json:"result"`
	Detail string       `json:"detail"`
}

// Checklist is what --verify-only reports for one subvolume or service
// (package checklist makes it).
type Checklist struct {
	Subvolume string       `json:"subvolume,omitempty"`
	Service   string       `json:"service,omitempty"`
	Result    model.Result `json:"result"`
	Checks    []Check      `json:"checks"`
}

// Name is the subvolume or service checked.
func (c Checklist) Name() string { return cmp.Or(c.Subvolume, c.Service) }

// Checks names the checklist's lines, in order.
const (
	CheckSource      = "source"      // exists and is a subvolume
	CheckData        = "data"        // not wiped or replaced compared with its newest snapshot
	CheckIncremental = "incremental" // shares a snapshot with the drive: the next send is incremental
	CheckVerified    = "verified"    // a copy a test or drill verified exists
	CheckContent     = "content"     // equals the copy it was recovered from, while unchanged since
)

// The lines of a service's checklist, beside CheckData and CheckVerified.
const (
	CheckReady = "ready" // the service answers from its data
)

// Add appends a line and folds its result into the checklist's.
func (c *Checklist) Add(k Check) {
	c.Checks = append(c.Checks, k)
	switch {
	case k.Result == model.ResultFail:
		c.Result = model.ResultFail
	case c.Result == "":
		c.Result = model.ResultPass
	}
}

// SnapshotDirsInside lists the locations' directories lying inside source,
// relative to it and slash-separated, as tree comparisons name paths: they
// are not the source's data.
func SnapshotDirsInside(d *schema.Desired, source string) []string {
	var out []string
	for _, l := range d.Locations {
		if rel, err := filepath.Rel(source, l.Path); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			out = append(out, filepath.ToSlash(rel))
		}
	}
	return out
}
