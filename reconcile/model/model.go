package model

import (
	"time"
)

// Plan is the diff between desired and observed state.
type Plan struct {
	// Version is PlanVersion: the format of the plan and its actions.
	Version    int             `json:"version"`
	Desired    string          `json:"desired"`
	Now        time.Time       `json:"now"`
	Drives     []DriveNote     `json:"drives,omitempty"`
	Warnings   []string        `json:"warnings,omitempty"`
	Subvolumes []SubvolumePlan `json:"subvolumes"`
	// Services are the monitored services' archives.
	Services []SubvolumePlan `json:"services,omitempty"`
	// Files are the writes of generated files (rules, dashboard, units,
	// runbooks).
	Files []Action `json:"files,omitempty"`
	// FilesError says why generated files could not be rendered.
	FilesError string `json:"filesError,omitempty"`
}

// DriveNote is an external drive's state as the plan reports it.
type DriveNote struct {
	Location string `json:"location"`
	Drive
}

// SubvolumePlan groups one subvolume's actions, warnings and, for
// --explain, the verdict of retention on every snapshot.
type SubvolumePlan struct {
	Name string `json:"name"`
	Tier string `json:"tier"`
	// Kind is empty for a subvolume, "service: <kind>" for a service.
	Kind      string          `json:"kind,omitempty"`
	Actions   []Action        `json:"actions"`
	Warnings  []string        `json:"warnings,omitempty"`
	Retention []RetentionNote `json:"retention,omitempty"`
	Foreign   []string        `json:"foreign,omitempty"`
	// Shrink is what comparing the newest snapshot with the one before it
	// and with the source made of them (issue 15): a saved plan is refused
	// when it changed.
	Shrink ShrinkVerdict `json:"shrink,omitempty"`
}

// ShrinkVerdict is the outcome of the shrink comparison: none (""), a
// warning, or a hold on every prune of the subvolume.
type ShrinkVerdict string

const (
	ShrinkWarn ShrinkVerdict = "warn"
	ShrinkHold ShrinkVerdict = "hold"
)

// RetentionNote says why a snapshot in a location is kept or pruned.
type RetentionNote struct {
	Location string `json:"location"`
	Snapshot string `json:"snapshot"`
	Keep     bool   `json:"keep"`
	Reason   string `json:"reason"`
}

// Actions returns every action of the plan in apply order.
func (p *Plan) Actions() []Action {
	var all []Action
	for _, s := range p.Subvolumes {
		all = append(all, s.Actions...)
	}
	for _, s := range p.Services {
		all = append(all, s.Actions...)
	}
	all = append(all, p.Files...)
	SortActions(all)
	return all
}

// Count returns how many actions of each kind the plan holds. Like Empty
// it reads the actions in place: Actions copies and sorts them, which over
// 100,000 prunes costs more than the rest of a plan's summary.
func (p *Plan) Count() map[Kind]int {
	n := map[Kind]int{}
	p.eachAction(func(a *Action) { n[a.Kind]++ })
	return n
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool {
	empty := true
	p.eachAction(func(*Action) { empty = false })
	return empty
}

// eachAction calls fn with every action of the plan, in no set order.
func (p *Plan) eachAction(fn func(*Action)) {
	for _, plans := range [][]SubvolumePlan{p.Subvolumes, p.Services} {
		for i := range plans {
			for j := range plans[i].Actions {
				fn(&plans[i].Actions[j])
			}
		}
	}
	for i := range p.Files {
		fn(&p.Files[i])
	}
}
