// Package recovery recovers whole subvolumes and services when a person
// asks (drsync recover): a pure planner choosing the newest verified copy
// of each (at or before a time, aligned across components, in a declared
// order), an executor journaling every step, and the checklist that
// verifies a recovery afterwards.
package recovery

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// PreRecoverInfix names the read-only snapshot an existing source is kept
// aside as: <name>.pre-recover-<time>. It never parses as a snapshot name,
// so observation lists it as foreign and retention never prunes it.
const PreRecoverInfix = ".pre-recover-"

// stampLayout dates the kept-aside snapshot and the staging directory.
const stampLayout = "20060102T150405"

// Request is what a person asked to recover.
type Request struct {
	// Names are the subvolumes and services to recover. Empty with At
	// set: every one (a point in time across components).
	Names []string
	// From names the snapshot to recover from (one subvolume only).
	From string
	// At picks the newest verified copy taken at or before it (zero: none).
	At time.Time
	// To is a directory to recover into (each subvolume as To/NAME)
	// instead of the declared sources.
	To  string
	Now time.Time
	// FromTarget recovers from the copies on this off-site target only
	// (see offsite.go); "" lets a subvolume with no local snapshot and no
	// replica on a present drive fall back to its off-site copies.
	FromTarget string
	// AllowUnverified lets an off-site recovery take the newest complete
	// copy when none is known verified (after a total loss the journal
	// holding the evidence is gone too); the plan warns.
	AllowUnverified bool
}

// Rule says how the copy to recover from was chosen.
type Rule string

const (
	RuleNewestVerified Rule = "newest-verified" // the newest copy a test or drill verified
	RuleFrom           Rule = "from"            // the snapshot named with --from
	RuleAt             Rule = "at"              // the newest verified copy at or before --at
	// RuleNewestComplete is the newest complete off-site copy, taken
	// because none is known verified and --allow-unverified said so.
	RuleNewestComplete Rule = "newest-complete"
)

// Choice is the typed reason a copy was chosen.
type Choice struct {
	Rule Rule      `json:"rule"`
	At   time.Time `json:"at,omitzero"`
	// Verified is when the copy's newest test or drill passed (zero:
	// never verified, or its newest one failed).
	Verified time.Time `json:"verified,omitzero"`
}

func (c Choice) String() string {
	verified := "never verified"
	if !c.Verified.IsZero() {
		verified = "verified " + c.Verified.Format("2006-01-02 15:04")
	}
	switch c.Rule {
	case RuleFrom:
		return "named with --from; " + verified
	case RuleAt:
		return fmt.Sprintf("the newest verified copy at or before %s; %s", c.At.Format("2006-01-02 15:04"), verified)
	case RuleNewestComplete:
		return "the newest complete off-site copy; no copy is known verified"
	}
	return "the newest verified copy; " + verified
}

// TargetState is what is at a recovery's target path.
type TargetState string

const (
	TargetMissing   TargetState = "missing"   // nothing: recreated
	TargetEmpty     TargetState = "empty"     // an empty directory or subvolume: replaced
	TargetData      TargetState = "data"      // a subvolume holding data: kept aside, then replaced
	TargetPlainData TargetState = "plain-dir" // a plain directory holding data: cannot be kept aside as a snapshot
	TargetSymlink   TargetState = "symlink"   // never followed, never replaced
)

// Target is a recovery's target as observed.
type Target struct {
	Path  string      `json:"path"`
	State TargetState `json:"state"`
	// Subvolume says the target is a subvolume (dirfs: any directory).
	Subvolume bool `json:"subvolume,omitempty"`
}

// Recovery is one subvolume's recovery: the typed payload of a recover
// action, carrying every path its steps need.
type Recovery struct {
	Subvolume    string    `json:"subvolume"`
	Snapshot     string    `json:"snapshot"`
	SnapshotTime time.Time `json:"snapshotTime"`
	Choice       Choice    `json:"choice"`
	// Location is where the copy is read, Copy its path; External says it
	// is the replica on the drive.
	Location string `json:"location"`
	External bool   `json:"external,omitempty"`
	// Offsite names the off-site target the copy is fetched from ("" for
	// a local snapshot or the drive's replica).
	Offsite string `json:"offsite,omitempty"`
	Copy    string `json:"copy"`
	// Receive is where the copy is received to first ("" when the target
	// is made from a local snapshot directly): a read-only snapshot the
	// drive also holds, so the next send is incremental from it.
	Receive string `json:"receive,omitempty"`
	// SnapshotHome is where the received copy moves once the target is
	// in place, when the snapshot directory lies inside the target (it
	// can only exist once the target does); "" otherwise.
	SnapshotHome string `json:"snapshotHome,omitempty"`
	// Base is the read-only snapshot the target is a writable snapshot of.
	Base string `json:"base"`
	// Staging is where the writable snapshot is made and verified before
	// it takes the target's place.
	Staging string `json:"staging"`
	Target  Target `json:"target"`
	// KeepAside is the read-only snapshot the existing target is kept as
	// ("" when there is nothing to keep).
	KeepAside string   `json:"keepAside,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

// Plan is what a recover will do, for a person to review.
type Plan struct {
	Now        time.Time         `json:"now"`
	Recoveries []Recovery        `json:"recoveries"`
	Services   []ServiceRecovery `json:"services,omitempty"`
	// Order is every component's name in the order they are recovered:
	// subvolumes, then services, each after what it names in after.
	Order []string `json:"order"`
	// At and Aligned are the point in time asked for with --at and the
	// copy chosen for each component.
	At       time.Time `json:"at,omitzero"`
	Aligned  []Aligned `json:"aligned,omitempty"`
	Warnings []string  `json:"warnings,omitempty"`
}

// Input is everything the planner reads: plain values, so a test builds
// it by hand.
type Input struct {
	Desired  *schema.Desired
	Observed *model.Observed
	Verified Verified
	// Offsite lists each subvolume's and service's restorable off-site
	// copies, when the caller observed its targets (see NeedsOffsite).
	Offsite OffsiteCopies
	// Targets are the observed targets by path (see TargetPath).
	Targets map[string]Target
}

// TargetPath is where a subvolume is recovered to: its declared source,
// or NAME inside the --to directory.
func TargetPath(d *schema.Desired, name, to string) string {
	if to != "" {
		return filepath.Join(to, name)
	}
	return d.Subvolumes[name].Source
}

// Compute plans a recovery: pure, deterministic for its input. Every
// problem is reported, each naming its subvolume.
func Compute(in Input, req Request) (*Plan, error) {
	p := &Plan{Now: req.Now, At: req.At}
	var errs []error
	if req.From != "" && len(req.Names) != 1 {
		errs = append(errs, fmt.Errorf("--from names one snapshot or archive: recover one subvolume or service at a time"))
	}
	names := req.Names
	implicit := len(names) == 0 && !req.At.IsZero()
	if implicit {
		names, p.Warnings = everyComponent(in.Desired, req)
	}
	var planned []string
	if len(names) == 0 {
		errs = append(errs, fmt.Errorf("name at least one subvolume or service to recover, or a time with --at"))
	}
	// admit takes a component's plan, or its error; without names, a
	// component with no copy before the time is left out with a warning.
	admit := func(name string, err error, add func()) {
		switch {
		case implicit && isNoCopy(err):
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s is left out: %v", name, err))
		case err != nil:
			errs = append(errs, fmt.Errorf("recover %s: %w", name, err))
		default:
			add()
			planned = append(planned, name)
		}
	}
	for _, name := range names {
		if svc := in.Desired.Services[name]; svc != nil {
			r, err := planService1(in, req, svc)
			admit(name, err, func() { p.Services = append(p.Services, r) })
			continue
		}
		r, err := plan1(in, req, name)
		admit(name, err, func() { p.Recoveries = append(p.Recoveries, r) })
	}
	if len(planned) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("nothing to recover: %s", strings.Join(p.Warnings, "; ")))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p.Order = in.Desired.RecoveryOrder(planned)
	if !req.At.IsZero() {
		p.Aligned = align(in.Desired, p, req.At)
	}
	return p, nil
}

// everyComponent is what a point-in-time recovery without names covers:
// every subvolume and service, but the root filesystem only into --to (it
// cannot be swapped under the running system).
func everyComponent(d *schema.Desired, req Request) (names, warnings []string) {
	for _, n := range d.SubvolumeNames() {
		if d.Subvolumes[n].Source == "/" && req.To == "" {
			warnings = append(warnings, fmt.Sprintf("%s (/) is left out: recover it into a mounted new root with drsync recover %s --at TIME --to DIR", n, n))
			continue
		}
		names = append(names, n)
	}
	if req.To == "" {
		names = append(names, d.ServiceNames()...)
	}
	return names, warnings
}

func plan1(in Input, req Request, name string) (Recovery, error) {
	d := in.Desired
	s := d.Subvolumes[name]
	if s == nil {
		return Recovery{}, fmt.Errorf("no subvolume or service %s is declared", name)
	}
	if s.Source == "/" && req.To == "" {
		return Recovery{}, fmt.Errorf("its source is / , the running system's root, which cannot be swapped under it: " +
			"from a live system, mount the new root filesystem and recover into it with --to DIR (runbook DR-001)")
	}
	c, choice, err := choose(in, req, s)
	if err != nil {
		return Recovery{}, err
	}
	stamp := req.Now.Format(stampLayout)
	localDir := d.SnapshotDir(s.Snapshots.Location, name)
	r := Recovery{Subvolume: name, Snapshot: c.Name, SnapshotTime: c.Time, Choice: choice,
		Location: c.Location, External: c.External, Offsite: c.Target, Copy: c.Path}
	targetPath := TargetPath(d, name, req.To)
	t, ok := in.Targets[targetPath]
	if !ok {
		return Recovery{}, fmt.Errorf("%s was not observed", targetPath)
	}
	r.Target = t
	r.Staging = filepath.Join(filepath.Dir(targetPath), "."+filepath.Base(targetPath)+".drsync-recover-"+stamp)
	nested := req.To == "" && within(targetPath, localDir)
	switch {
	case req.To != "":
		// Another filesystem, perhaps: the copy is received next to the
		// target, where a writable snapshot of it can be made.
		r.Receive = filepath.Join(req.To, c.Name)
	case c.remote() && nested:
		// The snapshot directory is inside the target: the copy waits
		// beside it until the target is in place.
		r.Receive = filepath.Join(r.Staging+".received", c.Name)
		r.SnapshotHome = filepath.Join(localDir, c.Name)
	case c.remote():
		r.Receive = filepath.Join(localDir, c.Name)
	}
	r.Base = cmp.Or(r.Receive, c.Path)
	if nested && t.State == TargetData {
		return Recovery{}, fmt.Errorf("%s holds data and its snapshot directory %s lies inside it, so it cannot be kept aside there: "+
			"move it away by hand (mv %s %s.old), then recover from the drive", targetPath, localDir, targetPath, targetPath)
	}
	switch t.State {
	case TargetSymlink:
		return Recovery{}, fmt.Errorf("%s is a symlink; drsync never follows or replaces one", targetPath)
	case TargetPlainData:
		return Recovery{}, fmt.Errorf("%s holds data but is not a subvolume, so it cannot be kept aside as a snapshot: move it away, or recover with --to", targetPath)
	case TargetData:
		if req.To != "" {
			return Recovery{}, fmt.Errorf("%s already exists and holds data; choose an empty --to", targetPath)
		}
		r.KeepAside = filepath.Join(localDir, name+PreRecoverInfix+stamp)
	}
	if choice.Rule == RuleNewestComplete {
		r.Warnings = append(r.Warnings, c.Name+" on "+c.Target+" is not known verified (no test or drill of it is in the journal): "+
			"the streams' SHA-256s and age's authentication are checked as it is fetched, and the recovered tree is compared with what was received")
	} else if choice.Verified.IsZero() {
		r.Warnings = append(r.Warnings, c.Name+" was never verified by a restore test or drill (or its newest one failed)")
	}
	if c.Time.After(req.Now) {
		r.Warnings = append(r.Warnings, c.Name+" is dated in the future")
	}
	if req.To != "" && s.Source == "/" {
		r.Warnings = append(r.Warnings, "make "+targetPath+" the new root's default subvolume (btrfs subvolume set-default) or name it in fstab before booting it")
	}
	return r, nil
}

// within reports whether path lies strictly inside dir.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}

// copyRef is one copy of a snapshot that a recovery can read.
type copyRef struct {
	Name, Location, Path string
	Time                 time.Time
	External             bool
	// Target is the off-site target holding the copy ("": on this machine
	// or the drive).
	Target string
}

// remote says the copy must be received before a writable snapshot of it
// can be made.
func (c copyRef) remote() bool { return c.External || c.Target != "" }

// copies lists a subvolume's snapshots by name, oldest first, each at the
// place it is read from: the local snapshot when there is one (no transfer
// needed), else the complete replica on the drive.
func copies(d *schema.Desired, o *model.Observed, s *schema.Subvolume) []copyRef {
	st := o.Subvolumes[s.Name]
	if st == nil {
		return nil
	}
	var out []copyRef
	for _, l := range st.Local {
		out = append(out, copyRef{Name: l.Name, Time: l.Time, Location: s.Snapshots.Location,
			Path: filepath.Join(d.SnapshotDir(s.Snapshots.Location, s.Name), l.Name)})
	}
	if s.External != nil {
		for _, r := range model.Replicas(st.External) {
			if !model.HasName(st.Local, r.Name) {
				out = append(out, copyRef{Name: r.Name, Time: r.Time, Location: s.External.Location, External: true,
					Path: filepath.Join(d.SnapshotDir(s.External.Location, s.Name), r.Name)})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b copyRef) int { return a.Time.Compare(b.Time) })
	return out
}

func choose(in Input, req Request, s *schema.Subvolume) (copyRef, Choice, error) {
	all, err := candidates(in, req, s)
	if err != nil {
		return copyRef{}, Choice{}, err
	}
	if len(all) == 0 {
		return copyRef{}, Choice{}, noCopyError{errors.New("no copy to recover from: no local snapshot, no replica on a present drive, and no off-site copy")}
	}
	return pick(all, in.Verified[s.Name], req, "snapshot")
}

// noCopyError marks a component with no copy to recover from (at or
// before --at): a point-in-time recovery of every component leaves it out.
type noCopyError struct{ error }

func isNoCopy(err error) bool { var n noCopyError; return errors.As(err, &n) }

// pick chooses among a component's copies (oldest first, at least one):
// the one --from names, else the newest verified one (at or before --at).
func pick(all []copyRef, verified map[string]time.Time, req Request, what string) (copyRef, Choice, error) {
	if len(all) == 0 {
		return copyRef{}, Choice{}, noCopyError{fmt.Errorf("no %s to recover from, locally or on a present drive", what)}
	}
	if req.From != "" {
		for _, c := range all {
			if c.Name == req.From {
				return c, Choice{Rule: RuleFrom, Verified: verified[c.Name]}, nil
			}
		}
		return copyRef{}, Choice{}, fmt.Errorf("--from %s: no such %s locally, on a present drive or on an observed off-site target (newest: %s)", req.From, what, all[len(all)-1].Name)
	}
	choice := Choice{Rule: RuleNewestVerified}
	if !req.At.IsZero() {
		choice = Choice{Rule: RuleAt, At: req.At}
	}
	var newest *copyRef
	for i := len(all) - 1; i >= 0; i-- {
		c := all[i]
		if !req.At.IsZero() && c.Time.After(req.At) {
			continue
		}
		if newest == nil {
			newest = &c
		}
		if v, ok := verified[c.Name]; ok {
			choice.Verified = v
			return c, choice, nil
		}
	}
	when := ""
	if !req.At.IsZero() {
		when = " at or before " + req.At.Format("2006-01-02 15:04")
	}
	if newest == nil {
		return copyRef{}, Choice{}, noCopyError{fmt.Errorf("no copy%s (oldest: %s)", when, all[0].Name)}
	}
	if newest.Target != "" && req.AllowUnverified {
		return *newest, Choice{Rule: RuleNewestComplete, At: req.At}, nil
	}
	if newest.Target != "" {
		return copyRef{}, Choice{}, fmt.Errorf("no copy%s was verified by a restore test or drill (the journal holds no evidence for them); the newest is %s on %s: "+
			"recover it with --allow-unverified (or --from %s) if you trust it", when, newest.Name, newest.Target, newest.Name)
	}
	return copyRef{}, Choice{}, fmt.Errorf("no copy%s was verified by a restore test or drill; the newest is %s: recover it with --from %s if you trust it",
		when, newest.Name, newest.Name)
}

// Verified maps a subvolume to its snapshots whose newest test or drill
// passed, with when that one ran.
type Verified map[string]map[string]time.Time

// VerifiedFrom reads the journal's evidence: a snapshot counts as verified
// when the newest test or drill of it that proved anything passed.
func VerifiedFrom(entries []model.JournalEntry) Verified {
	latest := map[[2]string]*model.TestReport{}
	for _, e := range entries {
		r := e.Report
		if r == nil || r.Result == model.ResultSkip || r.Snapshot == "" {
			continue
		}
		k := [2]string{r.Subvolume, r.Snapshot}
		if prev := latest[k]; prev == nil || !r.Started.Before(prev.Started) {
			latest[k] = r
		}
	}
	v := Verified{}
	for k, r := range latest {
		if !r.Passed() {
			continue
		}
		if v[k[0]] == nil {
			v[k[0]] = map[string]time.Time{}
		}
		v[k[0]][k[1]] = r.Started
	}
	return v
}
