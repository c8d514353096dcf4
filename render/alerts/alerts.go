// Package alerts renders the Prometheus alert rules drsync generates and
// the promtool unit tests that prove each rule fires just past its
// threshold and stays quiet just before it.
package alerts

import (
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drsync/drsync/internal/shellwords"
	"github.com/drsync/drsync/render/internal/genfile"
	"github.com/drsync/drsync/render/runbook"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

// The rule file. Thresholds are not written into the rules: each rule
// compares an evidence metric with the target metric drsync exports from the
// desired state, so one rule serves every tier and the numbers live in one
// place. Every "... or (target unless evidence)" clause makes a missing
// piece of evidence (never backed up, never tested) fire instead of staying
// silent.
type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

// ruleGroup has no interval of its own: Prometheus's evaluation_interval
// applies, as for the user's other rules.
type ruleGroup struct {
	Name  string `yaml:"name"`
	Rules []rule `yaml:"rules"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// alert is one alerting rule plus what its unit tests need to know.
type alert struct {
	name     string
	expr     string
	forDur   time.Duration
	severity string
	category string
	// summary and description are Prometheus templates that use nothing
	// but {{ $labels.NAME }}, so the tests can expand them exactly.
	summary, description string
	// runbook is the runbook annotation: a path, or a template choosing the
	// path by subvolume. Empty when runbooks are not generated.
	runbook string
	// labels are added to severity and category: one rule per drive
	// carries its drive's name, so promtool does not take the rules for
	// duplicates.
	labels map[string]string
}

// Slack on the cadences: a restore test or drill runs at the first apply
// after it is due, and a removable drive is plugged in by hand.
const (
	CadenceSlack = 1.2
	DriveSlack   = 24 * time.Hour
)

// alerts returns the rules for in, in file order.
func alerts(in view.Input) []alert {
	d := in.Desired
	// Commands in descriptions are pasted into a shell: quoted.
	f := shellwords.Quote(d.Generate.DesiredFile)
	bin := shellwords.Quote(d.Generate.Binary)
	rb := subvolumeRunbook(in)
	testFailed, testOverdue := proofAlerts(proof{
		alert: "RestoreTest", metric: "backup_restore_test", title: "Restore test", noun: "restore test", command: "test",
		failedMeans: "its backups may be corrupted. Investigate immediately", overdueMeans: "its backups are unproven",
	}, bin, f, rb)
	drillFailed, drillOverdue := proofAlerts(proof{
		alert: "Drill", metric: "backup_drill", title: "Restore drill", noun: "full restore drill", command: "drill",
		failedMeans: "a full recovery is not proven to work. Repeat it", overdueMeans: "its RTO is unmeasured",
	}, bin, f, rb)
	out := []alert{
		{
			name: "BackupFailed",
			// on (...): the aggregate has lost the instance and job labels a
			// scrape adds to the raw series, so only these labels can match.
			expr: `(time() - backup_last_success_timestamp > on (host, subvolume, tier) 2 * min by (host, subvolume, tier) (backup_schedule_interval_seconds))
or
(min by (host, subvolume, tier) (backup_schedule_interval_seconds) unless on (host, subvolume, tier) backup_last_success_timestamp)`,
			forDur: time.Hour, severity: "critical", category: "backup",
			summary:     "Backup failed for {{ $labels.subvolume }}",
			description: fmt.Sprintf("drsync has not snapshotted or sent {{ $labels.subvolume }} (tier {{ $labels.tier }}) without error for more than twice its schedule interval, or never has. Check `journalctl -u %s` and `%s plan -f %s`.", view.ApplyService, bin, f),
			runbook:     rb,
		},
		testFailed,
		testOverdue,
		{
			name: "BackupTooOld",
			expr: `(time() - backup_newest_snapshot_timestamp{location="external"} > on (host, subvolume, tier) group_left backup_rpo_target_seconds)
or
(backup_schedule_interval_seconds{location="external"} unless on (host, subvolume, tier) backup_newest_snapshot_timestamp{location="external"})`,
			forDur: time.Hour, severity: "warning", category: "backup",
			summary:     "External backup of {{ $labels.subvolume }} is older than its RPO",
			description: fmt.Sprintf("The newest replica of {{ $labels.subvolume }} on {{ $labels.location_name }} is older than the tier {{ $labels.tier }} RPO target, or there is none: losing the machine now loses more data than accepted. Connect the drive and run `%s apply -f %s`.", bin, f),
			runbook:     rb,
		},
		{
			name:   "RTOAboveTarget",
			expr:   `backup_rto_measured_seconds > backup_rto_target_seconds`,
			forDur: 5 * time.Minute, severity: "warning", category: "disaster-recovery",
			summary:     "Measured RTO of {{ $labels.subvolume }} is above its target",
			description: fmt.Sprintf("The newest full restore drill of {{ $labels.subvolume }} (tier {{ $labels.tier }}) took longer than its RTO target: a real recovery would be slower than promised. Revisit the target or the restore path, then `%s drill --subvolume {{ $labels.subvolume }} -f %s`.", bin, f),
			runbook:     rb,
		},
		drillFailed,
		drillOverdue,
		{
			// Fires at once: a failing send does not heal by waiting, and
			// BackupTooOld would only notice when the RPO is already lost.
			name:     "BackupSendFailing",
			expr:     `backup_send_failing_since_timestamp`,
			severity: "warning", category: "backup",
			summary:     "Sends of {{ $labels.subvolume }} to its drive are failing",
			description: fmt.Sprintf("The last send of {{ $labels.subvolume }} (tier {{ $labels.tier }}) to its external drive failed, and none has succeeded since (the value is when the failures started). `%s status -f %s` shows btrfs's reason; the next `%s plan -f %s` sends from another parent or in full.", bin, f, bin, f),
			runbook:     rb,
		},
	}
	if view.AnyCoverage(in) {
		out = append(out, coverageAlert(bin, f, rb))
	}
	names, by := view.ExternalLocations(in)
	for _, name := range names {
		loc := d.Locations[name]
		var subs []string
		for _, s := range by[name] {
			subs = append(subs, s.Name)
		}
		unlock := ""
		if loc.LUKS != nil {
			unlock = fmt.Sprintf("`cryptsetup open %s %s`, ", shellwords.Quote(loc.LUKS.Device), loc.LUKS.Mapping)
		}
		sel := fmt.Sprintf(`{location_name=%q}`, name)
		out = append(out, alert{
			name: "ExternalDriveNotSeen",
			expr: fmt.Sprintf(`(time() - backup_external_drive_last_seen_timestamp%s > backup_external_drive_interval_seconds + %d)
or
(backup_external_drive_interval_seconds%s unless backup_external_drive_last_seen_timestamp)`, sel, int(DriveSlack.Seconds()), sel),
			forDur: time.Hour, severity: "warning", category: "backup",
			summary:     fmt.Sprintf("External drive %s not seen", name),
			description: fmt.Sprintf("External drive %s has not been present for longer than its schedule allows (every %s, plus %s), or never was: replicas of %s are going stale. Unlock it (%smount it at %s) and run `%s apply -f %s`.", name, schema.FormatDuration(view.DriveInterval(by[name])), schema.FormatDuration(DriveSlack), strings.Join(subs, ", "), unlock, loc.Mount, bin, f),
			runbook:     runbookPath(in, driveRunbook(in.Desired, by[name])),
			labels:      map[string]string{"location_name": name},
		})
	}
	out = append(out, rehearsalAlerts(in)...)
	return append(out, offsiteAlerts(in)...)
}

// proof names one kind of proof of recovery in its pair of alerts.
type proof struct {
	alert   string // alert name prefix: RestoreTest, Drill
	metric  string // metric name prefix
	title   string // summary noun
	noun    string // description noun
	command string // the drsync command that runs one
	// What a failure and an overdue proof mean for the user.
	failedMeans, overdueMeans string
}

// proofAlerts returns p's Failed and Overdue alerts: tests and drills are
// judged the same way, only their words and metrics differ.
func proofAlerts(p proof, bin, desiredFile, rb string) (failed, overdue alert) {
	run := fmt.Sprintf("`%s %s --subvolume {{ $labels.subvolume }} -f %s`", bin, p.command, desiredFile)
	failed = alert{
		name:   p.alert + "Failed",
		expr:   p.metric + "_success == 0",
		forDur: 5 * time.Minute, severity: "critical", category: "disaster-recovery",
		summary:     p.title + " failed for {{ $labels.subvolume }}",
		description: fmt.Sprintf("The newest %s of {{ $labels.subvolume }} (tier {{ $labels.tier }}) failed: %s: %s.", p.noun, p.failedMeans, run),
		runbook:     rb,
	}
	overdue = alert{
		name: p.alert + "Overdue",
		expr: fmt.Sprintf(`(time() - %[1]s_last_run_timestamp > %[2]g * %[1]s_interval_seconds)
or
(%[1]s_interval_seconds unless %[1]s_last_run_timestamp)`, p.metric, CadenceSlack),
		forDur: time.Hour, severity: "warning", category: "disaster-recovery",
		summary:     p.title + " overdue for {{ $labels.subvolume }}",
		description: fmt.Sprintf("{{ $labels.subvolume }} (tier {{ $labels.tier }}) has had no %s for %g times its tier's interval, or never had one: %s. Run %s.", p.noun, CadenceSlack, p.overdueMeans, run),
		runbook:     rb,
	}
	return failed, overdue
}

// runbookPath is where a rendered runbook lands; empty when runbooks are off.
func runbookPath(in view.Input, file string) string {
	g := in.Desired.Generate
	if !g.Enabled.Runbooks {
		return ""
	}
	return filepath.Join(g.Runbooks, file)
}

// driveRunbook is the runbook that recovers from what a drive holds: the
// scenario runbook of its subvolumes when they share one, else DR-004,
// which restores everything from the drive.
func driveRunbook(d *schema.Desired, subs []view.Subvolume) string {
	file := runbook.Total
	for i, s := range subs {
		rb := runbook.For(d, s.Subvolume)
		if i > 0 && rb != file {
			return runbook.Total
		}
		file = rb
	}
	return file
}

// subvolumeRunbook is a template choosing, by the alert's subvolume label,
// the runbook that restores that subvolume.
func subvolumeRunbook(in view.Input) string {
	system, pool := runbookPath(in, runbook.System), runbookPath(in, runbook.Pool)
	if system == "" {
		return ""
	}
	var onSystem []string
	var onPool bool
	for _, s := range view.Subvolumes(in) {
		if runbook.For(in.Desired, s.Subvolume) == runbook.System {
			onSystem = append(onSystem, strconv.Quote(s.Name))
		} else {
			onPool = true
		}
	}
	switch {
	case len(onSystem) == 0:
		return pool
	case !onPool:
		return system
	}
	return fmt.Sprintf("{{ if eq $labels.subvolume %s }}%s{{ else }}%s{{ end }}", strings.Join(onSystem, " "), system, pool)
}

func promDuration(d time.Duration) string { return schema.FormatDuration(d) }

// Rules renders the Prometheus rule file.
func Rules(in view.Input) ([]byte, error) {
	if err := view.Check(in); err != nil {
		return nil, err
	}
	g := ruleGroup{Name: "drsync"}
	for _, a := range alerts(in) {
		ann := map[string]string{"summary": a.summary, "description": a.description}
		if a.runbook != "" {
			ann["runbook"] = a.runbook
		}
		g.Rules = append(g.Rules, rule{
			Alert:       a.name,
			Expr:        a.expr,
			For:         promDuration(a.forDur),
			Labels:      with(a.labels, "severity", a.severity, "category", a.category),
			Annotations: ann,
		})
	}
	header := fmt.Sprintf("# Generated by drsync from %s; edit the desired state, not this file.\n", genfile.CommentText(in.Desired.Generate.DesiredFile))
	return genfile.YAML(header, ruleFile{Groups: []ruleGroup{g}})
}

// The promtool unit test file.
type testFile struct {
	RuleFiles          []string    `yaml:"rule_files"`
	EvaluationInterval string      `yaml:"evaluation_interval"`
	Tests              []testGroup `yaml:"tests"`
}

type testGroup struct {
	Name        string      `yaml:"name"`
	Interval    string      `yaml:"interval"`
	InputSeries []series    `yaml:"input_series"`
	AlertTests  []alertTest `yaml:"alert_rule_test"`
}

type series struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

type alertTest struct {
	EvalTime  string     `yaml:"eval_time"`
	AlertName string     `yaml:"alertname"`
	ExpAlerts []expAlert `yaml:"exp_alerts"`
}

type expAlert struct {
	Labels      map[string]string `yaml:"exp_labels"`
	Annotations map[string]string `yaml:"exp_annotations"`
}

// step is the evaluation and sample interval of the unit tests.
const step = time.Minute

// RuleTests renders promtool unit tests proving that each alert fires
// just past its threshold and stays quiet just before it, with the
// thresholds of the desired state. The rule file is named by its basename:
// promtool resolves it next to the test file.
func RuleTests(in view.Input) ([]byte, error) {
	if err := view.Check(in); err != nil {
		return nil, err
	}
	// Services count as subvolumes here, as in the metrics: a state of
	// services alone still has every backup alert to test.
	subs := view.Tracked(in)
	if len(subs) == 0 {
		return nil, fmt.Errorf("alert rule tests: no subvolumes or services declared")
	}
	all := alerts(in)
	byName := map[string]alert{}
	for _, a := range all {
		if _, ok := byName[a.name]; !ok {
			byName[a.name] = a
		}
	}
	s := subs[0]
	for _, c := range subs {
		if c.External != nil {
			s = c
			break
		}
	}
	// A named machine's series carry its host label: so do the tests'.
	host := func(m map[string]string) map[string]string {
		if h := in.Desired.Host; h != "" {
			return with(m, "host", h)
		}
		return m
	}
	sl := host(map[string]string{"subvolume": s.Name, "tier": s.Tier})
	local := with(sl, "location", "local", "location_name", s.Snapshots.Location)
	minInterval := s.Snapshots.Schedule.Period()
	schedules := []seriesSpec{{"backup_schedule_interval_seconds", local, flat(minInterval.Seconds())}}
	if s.External != nil {
		ext := with(sl, "location", "external", "location_name", s.External.Location)
		schedules = append(schedules, seriesSpec{"backup_schedule_interval_seconds", ext, flat(s.External.Schedule.Period().Seconds())})
		minInterval = min(minInterval, s.External.Schedule.Period())
	}
	var groups []testGroup
	add := func(name string, a alert, labels map[string]string, input []seriesSpec, t timing) {
		groups = append(groups, edgeTests(in, name, a, labels, input, t))
	}
	a := byName["BackupFailed"]
	add("BackupFailed: last success just inside and past twice the schedule interval", a, sl,
		append([]seriesSpec{{"backup_last_success_timestamp", sl, crossing(2 * minInterval.Seconds())}}, schedules...), crossingTiming)
	add("BackupFailed: never succeeded", a, sl, schedules, fromStartTiming)

	a = byName["RestoreTestFailed"]
	add("RestoreTestFailed: passing test quiet, failed test fires", a, sl,
		[]seriesSpec{{"backup_restore_test_success", sl, step2(1, 0)}}, stepTiming)

	a = byName["RestoreTestOverdue"]
	interval := seriesSpec{"backup_restore_test_interval_seconds", sl, flat(s.RestoreEvery.Seconds())}
	add("RestoreTestOverdue: last test just inside and past the interval with slack", a, sl,
		[]seriesSpec{{"backup_restore_test_last_run_timestamp", sl, crossing(CadenceSlack * s.RestoreEvery.Seconds())}, interval}, crossingTiming)
	add("RestoreTestOverdue: never tested", a, sl, []seriesSpec{interval}, fromStartTiming)

	if s.External != nil {
		a = byName["BackupTooOld"]
		ext := with(sl, "location", "external", "location_name", s.External.Location)
		rpo := seriesSpec{"backup_rpo_target_seconds", sl, flat(s.RPO.Seconds())}
		add("BackupTooOld: newest replica just inside and past the RPO", a, ext,
			append([]seriesSpec{{"backup_newest_snapshot_timestamp", ext, crossing(s.RPO.Seconds())}, rpo}, schedules...), crossingTiming)
		add("BackupTooOld: no replica yet", a, ext, append([]seriesSpec{rpo}, schedules...), fromStartTiming)
	}

	if s.External != nil {
		failing := func(n int) string { return fmt.Sprintf("_x6 %sx%d", num(crossingAt.Seconds()), n-6) }
		add("BackupSendFailing: quiet while sends succeed, fires at the first failed one", byName["BackupSendFailing"], sl,
			[]seriesSpec{{"backup_send_failing_since_timestamp", sl, failing}}, stepTiming)
	}

	a = byName["RTOAboveTarget"]
	rto := s.RTO.Seconds()
	add("RTOAboveTarget: drill at the target quiet, a second over fires", a, sl,
		[]seriesSpec{{"backup_rto_measured_seconds", sl, step2(rto, rto+1)}, {"backup_rto_target_seconds", sl, flat(rto)}}, stepTiming)

	// Drills are optional per tier: test with a subvolume whose tier asks for them.
	for _, ds := range subs {
		if ds.DrillEvery == 0 {
			continue
		}
		dl := host(map[string]string{"subvolume": ds.Name, "tier": ds.Tier})
		add("DrillFailed: passing drill quiet, failed drill fires", byName["DrillFailed"], dl,
			[]seriesSpec{{"backup_drill_success", dl, step2(1, 0)}}, stepTiming)
		interval := seriesSpec{"backup_drill_interval_seconds", dl, flat(ds.DrillEvery.Seconds())}
		add("DrillOverdue: last drill just inside and past the interval with slack", byName["DrillOverdue"], dl,
			[]seriesSpec{{"backup_drill_last_run_timestamp", dl, crossing(CadenceSlack * ds.DrillEvery.Seconds())}, interval}, crossingTiming)
		add("DrillOverdue: never drilled", byName["DrillOverdue"], dl, []seriesSpec{interval}, fromStartTiming)
		break
	}

	offsiteAlertTests(in, byName, host, add)
	if a, ok := byName["CoverageBelowTarget"]; ok {
		groups = append(groups, coverageAlertTests(in, a, host)...)
	}

	names, by := view.ExternalLocations(in)
	for _, name := range names {
		var a alert
		for _, c := range all {
			if c.name == "ExternalDriveNotSeen" && strings.Contains(c.expr, strconv.Quote(name)) {
				a = c
			}
		}
		dl := host(map[string]string{"location_name": name})
		iv := view.DriveInterval(by[name]).Seconds()
		ivs := seriesSpec{"backup_external_drive_interval_seconds", dl, flat(iv)}
		add("ExternalDriveNotSeen "+name+": last seen just inside and past its schedule", a, dl,
			[]seriesSpec{{"backup_external_drive_last_seen_timestamp", dl, crossing(iv + DriveSlack.Seconds())}, ivs}, crossingTiming)
		add("ExternalDriveNotSeen "+name+": never seen", a, dl, []seriesSpec{ivs}, fromStartTiming)
	}

	groups = append(groups, rehearsalAlertTests(in, byName, host)...)

	tf := testFile{
		RuleFiles:          []string{filepath.Base(in.Desired.Generate.AlertRules)},
		EvaluationInterval: promDuration(step),
		Tests:              groups,
	}
	header := fmt.Sprintf("# Generated by drsync from %s. Run: promtool test rules %s\n", genfile.CommentText(in.Desired.Generate.DesiredFile), shellwords.Quote(filepath.Base(in.Desired.Generate.AlertTests)))
	return genfile.YAML(header, tf)
}

// seriesSpec is one input series of a unit test; values is a function of
// the number of samples needed.
type seriesSpec struct {
	name   string
	labels map[string]string
	values func(n int) string
}

// timing says when an edge test's condition starts holding: the test
// expects quiet one step before the alert's for-duration has elapsed since
// then, and the alert one step later.
type timing time.Duration

const (
	// crossing series pass their threshold between 10m and 11m.
	crossingTiming = timing(11 * time.Minute)
	// step2 series change value at 6m.
	stepTiming = timing(6 * time.Minute)
	// the "unless" clauses hold from the first evaluation.
	fromStartTiming = timing(0)
)

// crossingAt is when a crossing timestamp reaches its threshold: halfway
// between two evaluations, so rounding cannot move the edge.
const crossingAt = 10*time.Minute + 30*time.Second

// crossing is a constant timestamp that makes time() - ts pass threshold
// seconds at crossingAt.
func crossing(threshold float64) func(int) string {
	return flat(crossingAt.Seconds() - threshold)
}

func flat(v float64) func(int) string {
	return func(n int) string { return fmt.Sprintf("%sx%d", num(v), n) }
}

// step2 is `from` for the first 6 samples (0m..5m), then `to`.
func step2(from, to float64) func(int) string {
	return func(n int) string { return fmt.Sprintf("%sx5 %sx%d", num(from), num(to), n-6) }
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// edgeTests builds a test group checking that a stays quiet one step before
// it should fire and fires at that step.
func edgeTests(in view.Input, name string, a alert, labels map[string]string, input []seriesSpec, t timing) testGroup {
	fire := time.Duration(t) + a.forDur
	n := int((fire+5*step)/step) + 1
	g := testGroup{Name: name, Interval: promDuration(step)}
	for _, s := range input {
		g.InputSeries = append(g.InputSeries, series{Series: s.name + selector(s.labels), Values: s.values(n)})
	}
	exp := with(labels, "severity", a.severity, "category", a.category)
	ann := map[string]string{"summary": expand(a.summary, labels), "description": expand(a.description, labels)}
	if a.runbook != "" {
		ann["runbook"] = expandRunbook(in, a.runbook, labels)
	}
	g.AlertTests = []alertTest{
		{EvalTime: promDuration(fire - step), AlertName: a.name, ExpAlerts: []expAlert{}},
		{EvalTime: promDuration(fire), AlertName: a.name, ExpAlerts: []expAlert{{Labels: exp, Annotations: ann}}},
	}
	return g
}

// selector prints labels as a series selector in sorted order.
func selector(labels map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, labels[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func with(m map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

var labelRef = regexp.MustCompile(`\{\{ \$labels\.(\w+) \}\}`)

// expand does what Prometheus does to the annotation templates, which use
// nothing but label references.
func expand(tmpl string, labels map[string]string) string {
	return labelRef.ReplaceAllStringFunc(tmpl, func(m string) string {
		return labels[labelRef.FindStringSubmatch(m)[1]]
	})
}

// expandRunbook resolves the runbook annotation for an alert's labels.
func expandRunbook(in view.Input, tmpl string, labels map[string]string) string {
	if !strings.Contains(tmpl, "{{") {
		return tmpl
	}
	if id, ok := labels["runbook"]; ok {
		return runbookPath(in, runbook.FileByID(id))
	}
	return runbookPath(in, runbook.For(in.Desired, in.Desired.Subvolumes[labels["subvolume"]]))
}
