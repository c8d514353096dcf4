// Package runbook renders the disaster-recovery runbooks, one per disaster
// scenario of the design documents (DR-001 to DR-004), from the templates
// of package runbooks filled with the desired state's paths and commands
// and the evidence on record, and reads the drsync commands back out of a
// rendered runbook.
package runbook

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/drsync/drsync/internal/shellwords"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/reports"
	"github.com/drsync/drsync/runbooks"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
)

// Runbook file names, one per disaster scenario of the design documents.
const (
	System   = "DR-001-system-ssd-failure.md"
	Pool     = "DR-002-btrfs-pool-corruption.md"
	Deletion = "DR-003-accidental-deletion.md"
	Total    = "DR-004-total-catastrophe.md"
)

// scenario is one disaster of the design documents and the subvolumes its
// recovery restores.
type scenario struct {
	file     string
	id       string
	severity string
	covers   func(d *schema.Desired, s *schema.Subvolume) bool
}

var scenarios = []scenario{
	{System, "DR-001", "Critical", func(d *schema.Desired, s *schema.Subvolume) bool { return For(d, s) == System }},
	{Pool, "DR-002", "Critical", func(d *schema.Desired, s *schema.Subvolume) bool { return For(d, s) == Pool }},
	{Deletion, "DR-003", "High", func(*schema.Desired, *schema.Subvolume) bool { return true }},
	{Total, "DR-004", "Critical", func(*schema.Desired, *schema.Subvolume) bool { return true }},
}

// runbookData is what a runbook template sees.
type runbookData struct {
	ID, Severity string
	Generated    string
	Drsync       string // the binary, as the units call it, shell-quoted
	Desired      string // the desired-state file
	RunbookDir   string
	ApplyService string
	ApplyTimer   string
	Scratch      string // where restores go before they are moved into place
	WatchService string
	Reports      string // where each test, drill, recovery and rehearsal keeps its report
	// Header lines of the design documents' template.
	RTOTarget, RPOTarget, LastTested, SuccessRate string
	// LastRehearsed is the runbook's own evidence: its newest rehearsal
	// on a sandbox (drsync rehearse), or "never rehearsed".
	LastRehearsed string
	// Subvolumes are those this scenario restores, tier by tier.
	Subvolumes []rbSubvolume
	// Unproven and Failing name covered subvolumes never tested, or whose
	// newest test failed: the runbook says so before anything else.
	Unproven, Failing []string
	Externals         []rbExternal
	// Pools are the local locations other than the system disk's (DR-002).
	Pools []rbLocation
	// System is the system disk's local location, nil when "/" is not
	// declared as a subvolume.
	System *rbLocation
	// Offsite are the off-site targets to recover from (DR-004).
	Offsite []rbOffsite
	// Services are those whose data lies in the covered subvolumes.
	Services []rbService
	// Coverage is each covered subvolume's and service's copies' verified
	// share within its coverage window (empty when no tier declares one).
	Coverage []rbCoverage
}

// rbService is a service whose data comes back with a covered subvolume;
// its own archives can be put in place instead.
type rbService struct {
	Name, Kind, Subvolume string
}

type rbSubvolume struct {
	Name, Tier, TierDescription, Source string
	SnapshotDir, LocalSchedule          string
	ReplicaDir, ExternalSchedule        string // empty without external replicas
	External                            string // external location name
	RPO, RTO                            string
	LastTested, TestResult, SuccessRate string
	MeasuredRTO, RTOStatus              string
	Verified                            string
	// NewestReplica and NewestLocal name the newest copies on record.
	NewestReplica, NewestLocal string
	Restore                    string // scratch directory for restores
	// System is set for the subvolume of "/" (under the root tag), which
	// is recovered from a live system into NewRoot, the new root
	// filesystem's mount point (under the root tag too, so a rehearsal's
	// sandbox runs the same command).
	System  bool
	NewRoot string
	// Drsync and Desired repeat the command and file for templates
	// executed with a subvolume as their data.
	Drsync, Desired string
}

type rbExternal struct {
	Name, Path, Mount, UUID, Label string
	LUKSDevice, LUKSMapping        string
	Subvolumes                     []string
}

type rbLocation struct {
	Name, Path string
	Subvolumes []string
}

// Render renders the disaster-recovery runbooks from the templates in
// package runbooks, filled with the desired state's paths and commands and
// the evidence on record.
func Render(in view.Input) (map[string][]byte, error) {
	if err := view.Check(in); err != nil {
		return nil, err
	}
	tmpl, err := template.New("runbooks").Funcs(template.FuncMap{
		"sh":   shellwords.Quote,
		"join": strings.Join,
	}).ParseFS(runbooks.FS, "*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parsing runbook templates: %w", err)
	}
	out := map[string][]byte{}
	for _, sc := range scenarios {
		var buf bytes.Buffer
		if err := tmpl.ExecuteTemplate(&buf, sc.file+".tmpl", runbookView(in, sc)); err != nil {
			return nil, fmt.Errorf("rendering %s: %w", sc.file, err)
		}
		out[sc.file] = buf.Bytes()
	}
	return out, nil
}

func runbookView(in view.Input, sc scenario) runbookData {
	d := in.Desired
	g := d.Generate
	v := runbookData{
		ID: sc.id, Severity: sc.severity,
		Generated:    generated(in),
		Drsync:       shellwords.Quote(g.Binary),
		Desired:      g.DesiredFile,
		RunbookDir:   g.Runbooks,
		Scratch:      d.Restore.Scratch,
		ApplyService: view.ApplyService, ApplyTimer: view.ApplyTimer, WatchService: view.WatchService,
		Reports:       filepath.Join(d.StateDir, reports.Dir),
		LastRehearsed: lastRehearsed(in, sc.id),
		Offsite:       offsiteView(d),
	}
	var sumRTO, maxRPO time.Duration
	tiers := map[string]bool{}
	var oldestTest time.Time
	run, passed := 0, 0
	subs := view.Subvolumes(in)
	slices.SortStableFunc(subs, func(a, b view.Subvolume) int { return strings.Compare(a.Tier, b.Tier) })
	for _, s := range subs {
		if !sc.covers(d, s.Subvolume) {
			continue
		}
		rs := rbView(in, s)
		v.Subvolumes = append(v.Subvolumes, rs)
		tiers[s.Tier] = true
		sumRTO += s.RTO
		maxRPO = max(maxRPO, s.RPO)
		run += s.Status.TestsRun
		passed += s.Status.TestsPassed
		switch t := s.Status.Test; {
		case t == nil:
			v.Unproven = append(v.Unproven, s.Name)
		case !t.Passed:
			v.Failing = append(v.Failing, s.Name)
		}
		if t := s.Status.Test; t != nil && (oldestTest.IsZero() || t.Time.Before(oldestTest)) {
			oldestTest = t.Time
		}
	}
	switch len(v.Subvolumes) {
	case 0:
		v.RTOTarget = "none: no subvolume is restored by this runbook"
		v.RPOTarget = v.RTOTarget
	case 1:
		v.RTOTarget = clock(sumRTO) + " (the subvolume's target below)"
	default:
		v.RTOTarget = clock(sumRTO) + " (the subvolumes' targets below, restored one after another)"
	}
	if len(v.Subvolumes) > 0 {
		v.RPOTarget = schema.FormatDuration(maxRPO) + " of data loss at most"
		if len(tiers) > 1 {
			v.RPOTarget += " (the loosest tier below)"
		}
	}
	switch {
	case len(v.Subvolumes) == 0:
		v.LastTested = "nothing to test: no subvolume is restored by this runbook"
	case len(v.Unproven) > 0:
		v.LastTested = "**NEVER TESTED: " + strings.Join(v.Unproven, ", ") + "**"
	default:
		v.LastTested = day(in, oldestTest) + " (the oldest of the subvolumes' newest restore tests)"
	}
	v.Services = servicesIn(d, v.Subvolumes)
	v.Coverage = rbCoverageRows(in, v.Subvolumes, v.Services)
	v.SuccessRate = successRate(run, passed)
	if len(v.Subvolumes) == 0 {
		v.SuccessRate = v.RTOTarget
	}

	names, by := view.ExternalLocations(in)
	for _, n := range names {
		loc := d.Locations[n]
		e := rbExternal{Name: n, Path: loc.Path, Mount: loc.Mount, UUID: loc.UUID, Label: loc.Label}
		if loc.LUKS != nil {
			e.LUKSDevice, e.LUKSMapping = loc.LUKS.Device, loc.LUKS.Mapping
		}
		for _, s := range by[n] {
			e.Subvolumes = append(e.Subvolumes, s.Name)
		}
		v.Externals = append(v.Externals, e)
	}
	system := systemLocation(d)
	locals := map[string]*rbLocation{}
	var localNames []string
	for _, s := range view.Subvolumes(in) {
		n := s.Snapshots.Location
		if locals[n] == nil {
			locals[n] = &rbLocation{Name: n, Path: d.Locations[n].Path}
			localNames = append(localNames, n)
		}
		locals[n].Subvolumes = append(locals[n].Subvolumes, s.Name)
	}
	slices.Sort(localNames)
	for _, n := range localNames {
		if n == system {
			v.System = locals[n]
		} else {
			v.Pools = append(v.Pools, *locals[n])
		}
	}
	return v
}

func rbView(in view.Input, s view.Subvolume) rbSubvolume {
	d := in.Desired
	st := s.Status
	r := rbSubvolume{
		Name: s.Name, Tier: s.Tier, TierDescription: s.TierDescription, Source: s.Source,
		SnapshotDir:   d.SnapshotDir(s.Snapshots.Location, s.Name),
		LocalSchedule: s.Snapshots.Schedule.Text,
		RPO:           schema.FormatDuration(s.RPO),
		RTO:           schema.FormatDuration(s.RTO),
		SuccessRate:   successRate(st.TestsRun, st.TestsPassed),
		Restore:       filepath.Join(d.Restore.Scratch, s.Name),
		LastTested:    "**NEVER TESTED**",
		MeasuredRTO:   "never measured",
		RTOStatus:     "**UNPROVEN**: no passing drill",
		Verified:      "**no verified snapshot**",
		Drsync:        shellwords.Quote(d.Generate.Binary),
		Desired:       d.Generate.DesiredFile,
		System:        s.Source == filepath.Join("/", d.Root),
		NewRoot:       filepath.Join("/", d.Root, "mnt", "newroot"),
	}
	if s.External != nil {
		r.External = s.External.Location
		r.ReplicaDir = d.SnapshotDir(s.External.Location, s.Name)
		r.ExternalSchedule = s.External.Schedule.Text
	}
	if t := st.Test; t != nil {
		r.LastTested = day(in, t.Time)
		r.TestResult = "passed"
		if !t.Passed {
			r.TestResult = "**FAILED**"
		}
	}
	if s.DrillEvery == 0 {
		r.RTOStatus = "unmeasured: the tier asks for no drills"
	}
	if dr := st.Drill; dr != nil && dr.Passed {
		r.MeasuredRTO = fmt.Sprintf("%s (drill of %s)", schema.FormatDuration(dr.RTO().Round(time.Minute)), day(in, dr.Time))
		if dr.Restore > 0 {
			r.MeasuredRTO = fmt.Sprintf("%s restore, then %s verifying (drill of %s)", schema.FormatDuration(dr.Restore.Round(time.Minute)),
				schema.FormatDuration(dr.Verify.Round(time.Minute)), day(in, dr.Time))
		}
		r.RTOStatus = "within target"
		if dr.RTO() > s.RTO {
			r.RTOStatus = "**ABOVE TARGET**"
		}
	} else if dr != nil {
		r.RTOStatus = fmt.Sprintf("**UNPROVEN**: the drill of %s failed", day(in, dr.Time))
	}
	if !st.Verified.IsZero() {
		// A date, not an age: a runbook changes with the evidence, not the clock.
		r.Verified = st.Verified.In(in.Now.Location()).Format("2006-01-02 15:04")
	}
	if !st.NewestExternal.IsZero() {
		r.NewestReplica = snapname.Format(s.Name, st.NewestExternal.In(in.Now.Location()))
	}
	if !st.NewestLocal.IsZero() {
		r.NewestLocal = snapname.Format(s.Name, st.NewestLocal.In(in.Now.Location()))
	}
	return r
}

// clock prints a sum of RTOs in hours and minutes: "13h30m", "45m".
func clock(d time.Duration) string {
	s := strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func day(in view.Input, t time.Time) string { return t.In(in.Now.Location()).Format("2006-01-02") }

func successRate(run, passed int) string {
	if run == 0 {
		return "**0/0: no restore test on record**"
	}
	return fmt.Sprintf("%d/%d tests passed (%d%%)", passed, run, passed*100/run)
}

// Commands extracts every drsync command line from the fenced code blocks
// of a rendered runbook, split into words as a POSIX shell would (quotes,
// backslashes, line continuations, comments; no expansion: "$SNAP" stays
// $SNAP). Each command starts with the program, whatever path it is called
// by; a leading sudo is dropped. Pipes, redirections and command lists end
// the command. The lead's tests parse each one with the CLI.
func Commands(md []byte) [][]string {
	var out [][]string
	inFence := false
	var pending string
	for _, line := range strings.Split(string(md), "\n") {
		line = unquote(line)
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			inFence, pending = !inFence, ""
			continue
		}
		if !inFence {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			pending += strings.TrimSuffix(line, `\`)
			continue
		}
		words := shellwords.Split(pending + line)
		pending = ""
		if len(words) > 0 && words[0] == "sudo" {
			words = words[1:]
		}
		if len(words) > 0 && filepath.Base(words[0]) == "drsync" {
			out = append(out, words)
		}
	}
	return out
}

// unquote strips a Markdown blockquote marker, so commands quoted in a
// warning are found too.
func unquote(line string) string {
	t := strings.TrimLeft(line, " ")
	if !strings.HasPrefix(t, ">") {
		return line
	}
	return strings.TrimPrefix(t[1:], " ")
}

// generated dates a runbook by the run whose evidence it carries, so that
// rendering it again without a new run gives the same file.
func generated(in view.Input) string {
	if in.Reconcile.LastRun.IsZero() {
		return "no recorded run yet"
	}
	return "the run of " + in.Reconcile.LastRun.In(in.Now.Location()).Format("2006-01-02 15:04 MST")
}

// IDs are the runbooks' identifiers, DR-001 to DR-004.
func IDs() []string {
	ids := make([]string, len(scenarios))
	for i, sc := range scenarios {
		ids[i] = sc.id
	}
	return ids
}

// ByID picks a runbook out of what Render rendered.
func ByID(books map[string][]byte, id string) ([]byte, bool) {
	for _, sc := range scenarios {
		if sc.id == id {
			md, ok := books[sc.file]
			return md, ok
		}
	}
	return nil, false
}

// Subvolumes names the subvolumes a whole-subvolume runbook
// restores (DR-001: the system disk's, DR-002: the pools', DR-004: all);
// none for DR-003, which restores paths.
func Subvolumes(d *schema.Desired, id string) []string {
	var out []string
	for _, sc := range scenarios {
		if sc.id != id || sc.file == Deletion {
			continue
		}
		for _, name := range d.SubvolumeNames() {
			if sc.covers(d, d.Subvolumes[name]) {
				out = append(out, name)
			}
		}
	}
	return out
}

// systemLocation is the local location holding the snapshots of the
// subvolume mounted at "/": losing the system disk loses it and every
// subvolume snapshotted there (DR-001). Empty when "/" is not backed up.
func systemLocation(d *schema.Desired) string {
	root := filepath.Join("/", d.Root)
	for _, name := range d.SubvolumeNames() {
		if s := d.Subvolumes[name]; s.Source == root {
			return s.Snapshots.Location
		}
	}
	return ""
}

// For is the scenario runbook that restores a subvolume: DR-001
// when it lives on the system disk, DR-002 for a pool.
func For(d *schema.Desired, s *schema.Subvolume) string {
	if s.Snapshots.Location == systemLocation(d) {
		return System
	}
	return Pool
}

// FileByID is the file name of a runbook.
func FileByID(id string) string {
	for _, sc := range scenarios {
		if sc.id == id {
			return sc.file
		}
	}
	return ""
}

// servicesIn lists the services whose data lies in subs, each with the
// subvolume that holds it.
func servicesIn(d *schema.Desired, subs []rbSubvolume) []rbService {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.Name
	}
	var out []rbService
	for _, name := range d.ServiceNames() {
		svc := d.Services[name]
		if holder := d.ServiceSubvolume(svc, names); holder != "" {
			out = append(out, rbService{Name: name, Kind: svc.Kind, Subvolume: holder})
		}
	}
	return out
}
