package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/verify/coverage"
)

// coverageRig is a sandbox of testdata/desired/coverage.cue: docs, tested
// every 30 days with a 360-day coverage window (12 slices).
type coverageRig struct {
	t    *testing.T
	d    *schema.Desired
	args []string
	base time.Time
}

func newCoverageRig(t *testing.T) *coverageRig {
	t.Helper()
	if err := sandbox.Available(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	file, _ := filepath.Abs("../../testdata/desired/coverage.cue")
	uuid := sandbox.NewUUID()
	d, err := schema.Load(file, []string{"root=" + dir, "drive_uuid=" + uuid})
	if err != nil {
		t.Fatal(err)
	}
	layout, err := sandbox.LayoutFor(d, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sandbox.Down(context.Background(), dir) })
	if err := sandbox.Up(t.Context(), dir, layout); err != nil {
		t.Fatal(err)
	}
	src := d.Subvolumes["docs"].Source
	for i := range 150 {
		p := filepath.Join(src, fmt.Sprintf("dir%d/sub%d/file-%03d.txt", i%5, i%4, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte{byte(i)}, 100+i*37), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("dir0/sub0/file-000.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	// Months start a day from now, at 05:00 local, after the 02:00 and
	// 03:00 slots.
	y, m, day := time.Now().AddDate(0, 0, 1).Date()
	return &coverageRig{t: t, d: d, base: time.Date(y, m, day, 5, 0, 0, 0, time.Local),
		args: []string{"-f", file, "-t", "root=" + dir, "-t", "drive_uuid=" + uuid}}
}

func (r *coverageRig) run(args ...string) (int, string) {
	var out bytes.Buffer
	code := run(append(args, r.args...), strings.NewReader(""), &out, &out)
	return code, out.String()
}

// month is the time of the i-th monthly apply: 30 days and a minute
// apart, as a test is due once the last one started 30 days ago and a run
// takes seconds.
func (r *coverageRig) month(i int) time.Time {
	return r.base.Add(time.Duration(i) * (30*24*time.Hour + time.Minute))
}

// apply runs apply --json at month i and returns its test report.
func (r *coverageRig) apply(i int) *model.TestReport {
	r.t.Helper()
	code, out := r.run("apply", "--auto-approve", "--json", "--now", r.month(i).Format(time.RFC3339))
	var rep applyReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		r.t.Fatalf("month %d: apply --json: %v\n%s", i, err, out)
	}
	var test *model.TestReport
	for _, e := range rep.Events {
		if e.Report != nil && e.Report.Kind == model.KindTest {
			test = e.Report
		}
	}
	if test == nil {
		r.t.Fatalf("month %d: no restore test ran (exit %d):\n%s", i, code, out)
	}
	if code != 0 && test.Result != model.ResultFail {
		r.t.Fatalf("month %d: apply exit %d:\n%s", i, code, out)
	}
	return test
}

// slicePaths are the files a report lists as verified by its slice.
func slicePaths(rep *model.TestReport) []string {
	var out []string
	for _, c := range rep.Checked {
		if slices.Contains(c.Passed, "slice") || slices.ContainsFunc(c.Failed, func(s string) bool { return strings.HasPrefix(s, "slice:") }) {
			out = append(out, c.Path)
		}
	}
	return out
}

// sourceFiles lists the regular files and symlinks of the source.
func (r *coverageRig) sourceFiles() []string {
	r.t.Helper()
	src := r.d.Subvolumes["docs"].Source
	var out []string
	filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err == nil && (e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0) {
			rel, _ := filepath.Rel(src, p)
			out = append(out, rel)
		}
		return nil
	})
	slices.Sort(out)
	return out
}

type statusCoverage struct {
	Name     string `json:"name"`
	Coverage []struct {
		Location  string  `json:"location"`
		FileShare float64 `json:"fileShare"`
		ByteShare float64 `json:"byteShare"`
	} `json:"coverage"`
}

// status returns docs' coverage per location from status --json at month i.
func (r *coverageRig) status(i int) map[string][2]float64 {
	r.t.Helper()
	code, out := r.run("status", "--json", "--now", r.month(i).Format(time.RFC3339))
	var rows []statusCoverage
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil {
		r.t.Fatalf("status: %d %v\n%s", code, err, out)
	}
	got := map[string][2]float64{}
	for _, row := range rows {
		for _, c := range row.Coverage {
			got[c.Location] = [2]float64{c.FileShare, c.ByteShare}
		}
	}
	return got
}

// metrics returns the coverage samples of the textfile apply wrote, by
// "location_name share".
func (r *coverageRig) metrics() map[string]float64 {
	r.t.Helper()
	b, err := os.ReadFile(r.d.Generate.Metrics)
	if err != nil {
		r.t.Fatal(err)
	}
	got := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "backup_coverage_verified_ratio{") {
			continue
		}
		labels, value, _ := strings.Cut(line, "} ")
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			r.t.Fatal(err)
		}
		loc := between(labels, `location_name="`, `"`)
		got[loc+" "+between(labels, `share="`, `"`)] = v
	}
	return got
}

func between(s, from, to string) string {
	_, rest, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(rest, to)
	return v
}

// TestCoverageTwelveMonthsEveryFileOnce is issue 15's first "done when":
// twelve monthly restore tests over a sandbox subvolume verify every file
// of it exactly once in the 360-day window, asserted by path, and then
// coverage metrics, status and the alert agree on 100%. A file damaged
// on the drive in a slice not due is then found no later than the
// window, and metrics, status and the alert agree on the shortfall.
func TestCoverageTwelveMonthsEveryFileOnce(t *testing.T) {
	r := newCoverageRig(t)
	files := r.sourceFiles()
	seen := map[string]int{}
	var sliceAt [12]int
	for i := range 12 {
		rep := r.apply(i)
		if rep.Result != model.ResultPass {
			t.Fatalf("month %d: test %s: %+v", i, rep.Result, rep.Failures)
		}
		if len(rep.Coverage) != 2 {
			t.Fatalf("month %d: the test proves a slice of %d copies, want the replica and the local snapshot: %+v", i, len(rep.Coverage), rep.Coverage)
		}
		sliceAt[i] = rep.Coverage[0].Slice
		if i == 0 {
			// The next plan names the slice due and its size.
			_, out := r.run("plan", "--now", r.month(1).Format(time.RFC3339))
			if !regexp.MustCompile(`verifies slice \d+ of 12: \d+ files, [0-9.]+ [KMG]?i?B`).MatchString(out) {
				t.Errorf("the plan does not say which slice its test verifies:\n%s", out)
			}
		}
		for _, p := range slicePaths(rep) {
			seen[p]++
		}
	}
	for _, f := range files {
		if seen[f] != 1 {
			t.Errorf("%s verified %d times in the window, want exactly once", f, seen[f])
		}
	}
	if len(seen) != len(files) {
		t.Errorf("slices verified %d paths, the source holds %d", len(seen), len(files))
	}
	if !slices.Equal(sorted(sliceAt[:]), []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}) {
		t.Errorf("slices verified by month: %v, want each of 0..11 once", sliceAt)
	}
	full := r.status(11)
	for _, loc := range []string{"pool", "usb"} {
		if full[loc] != [2]float64{1, 1} {
			t.Errorf("status at month 11: %s coverage %v, want 100%% of files and bytes", loc, full[loc])
		}
	}
	m := r.metrics()
	for _, k := range []string{"pool files", "pool bytes", "usb files", "usb bytes"} {
		if m[k] != 1 {
			t.Errorf("metric %s = %v, want 1 (status says 100%%)", k, m[k])
		}
	}
	r.promtoolCoverageAlert(false)

	// Damage one file of the newest replica in the slice verified longest
	// after month 0's: the months that follow re-verify slices in the same
	// order, so it is due last, at month 23 (11 months on, inside the
	// window). Unchanged files are shared by every later replica.
	damagedSlice := sliceAt[11]
	var victim string
	for _, f := range files {
		if coverage.SliceOf(f, 12) == damagedSlice && !strings.HasPrefix(f, "link") {
			victim = f
			break
		}
	}
	replicas, _, err := btrfs.List(r.d.SnapshotDir("usb", "docs"))
	if err != nil || len(replicas) == 0 {
		t.Fatalf("replicas: %v %v", replicas, err)
	}
	newest := replicas[len(replicas)-1].Path
	tamper(t, newest, func() {
		p := filepath.Join(newest, victim)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0xff
		st, _ := os.Stat(p)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, st.ModTime(), st.ModTime())
	})
	found := -1
	for i := 12; i < 24 && found < 0; i++ {
		rep := r.apply(i)
		if rep.Result == model.ResultFail {
			for _, f := range rep.Failures {
				if f.Path == victim && f.Check == "sha256" {
					found = i
				}
			}
			if found < 0 {
				t.Fatalf("month %d: test failed without naming %s: %+v", i, victim, rep.Failures)
			}
		}
	}
	if found < 0 {
		t.Fatalf("damage to %s (slice %d) not found within the window", victim, damagedSlice)
	}
	t.Logf("damage in slice %d found at month %d", damagedSlice+1, found)
	short := r.status(found)
	m = r.metrics()
	if short["usb"][0] >= 1 || short["usb"][0] != m["usb files"] || short["usb"][1] != m["usb bytes"] {
		t.Errorf("after the failure: status %v, metrics %v: want the same shortfall on usb", short["usb"], m)
	}
	r.promtoolCoverageAlert(true)
}

func sorted(s []int) []int {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// promtoolCoverageAlert evaluates the generated CoverageBelowTarget rule
// (its expression, for and labels; annotations dropped) with promtool on
// the coverage series of the textfile as they are, and expects it to
// fire for the drive's copy or to stay quiet.
func (r *coverageRig) promtoolCoverageAlert(fire bool) {
	t := r.t
	t.Helper()
	promtool := promtest.Tool(t, "promtool", "prometheus")
	raw, err := os.ReadFile(r.d.Generate.AlertRules)
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []map[string]any `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatal(err)
	}
	var rule map[string]any
	for _, g := range rules.Groups {
		for _, ru := range g.Rules {
			if ru["alert"] == "CoverageBelowTarget" {
				rule = ru
			}
		}
	}
	if rule == nil {
		t.Fatal("generated rules lack CoverageBelowTarget")
	}
	delete(rule, "annotations")
	dir := t.TempDir()
	writeYAML(t, filepath.Join(dir, "rules.yml"), map[string]any{"groups": []any{map[string]any{"name": "coverage", "rules": []any{rule}}}})
	prom, err := os.ReadFile(r.d.Generate.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	// The textfile's coverage series, held for the test, and the alert
	// expected for every copy's share under the declared target.
	var input []map[string]string
	var exp []any
	target := -1.0
	for _, line := range strings.Split(string(prom), "\n") {
		if strings.HasPrefix(line, "backup_coverage_target_ratio{") {
			_, v, _ := strings.Cut(line, "} ")
			target, _ = strconv.ParseFloat(v, 64)
		}
	}
	for _, line := range strings.Split(string(prom), "\n") {
		if !strings.HasPrefix(line, "backup_coverage_") {
			continue
		}
		series, value, _ := strings.Cut(line, " ")
		input = append(input, map[string]string{"series": series, "values": value + "x120"})
		if v, _ := strconv.ParseFloat(value, 64); strings.HasPrefix(series, "backup_coverage_verified_ratio{") && v < target {
			labels := map[string]string{"severity": "warning", "category": "disaster-recovery"}
			for _, kv := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(series, "backup_coverage_verified_ratio{"), "}"), ",") {
				k, v, _ := strings.Cut(kv, "=")
				labels[k] = strings.Trim(v, `"`)
			}
			exp = append(exp, map[string]any{"exp_labels": labels})
		}
	}
	if target < 0 || (len(exp) > 0) != fire {
		t.Fatalf("target %v; series under it: %v, want some: %v", target, exp, fire)
	}
	writeYAML(t, filepath.Join(dir, "test.yml"), map[string]any{
		"rule_files": []string{"rules.yml"}, "evaluation_interval": "1m",
		"tests": []any{map[string]any{"interval": "1m", "input_series": input,
			"alert_rule_test": []any{map[string]any{"eval_time": "90m", "alertname": "CoverageBelowTarget", "exp_alerts": exp}}}},
	})
	cmd := exec.Command(promtool, "test", "rules", "test.yml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool disagrees with the metrics (want firing %v): %v\n%s\ninput: %v", fire, err, out, input)
	}
}

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotOfEmptyMountPointFlagged is issue 15 item 3 on real btrfs:
// the source is emptied (as a pool that was not mounted looks), apply
// snapshots it, and from then on the source and its newest snapshot are
// equally empty; the plan compares that snapshot with the one before it,
// says so with the counts of entries and bytes and, with the tier's
// holdBelow, holds prunes.
func TestSnapshotOfEmptyMountPointFlagged(t *testing.T) {
	r := newCoverageRig(t)
	r.apply(0)
	src := r.d.Subvolumes["docs"].Source
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(src, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if code, out := r.run("apply", "--auto-approve", "--now", r.month(1).Format(time.RFC3339)); !strings.Contains(out, "source looks destroyed: it is empty") {
		t.Fatalf("apply of an emptied source (exit %d) does not warn:\n%s", code, out)
	}
	_, out := r.run("plan", "--now", r.month(2).Format(time.RFC3339))
	flagged := regexp.MustCompile(`snapshot looks wrong: newest snapshot docs\.\S+ holds 0 entries, 0% of the \d+ and 0 B, 0% of the [\d.]+ [KMG]iB in docs\.`)
	if !flagged.MatchString(out) || !strings.Contains(out, "Every prune of docs (local and drive) waits") {
		t.Fatalf("plan after a snapshot of the empty source does not flag it and hold prunes:\n%s", out)
	}
	if regexp.MustCompile(`(?m)^\s+-\s+prune\s`).MatchString(out) {
		t.Errorf("plan still prunes:\n%s", out)
	}
}

// TestSnapshotWithContentGoneFlagged is issue 15 item 3's bytes on real
// btrfs: every file of the source is still there, emptied, so no entry is
// missing and the source does not look destroyed. The plan compares the
// source's bytes with its newest snapshot's and, once that snapshot is
// taken, the newest snapshot's with the one before it; each is flagged
// with the counts and, with the tier's holdBelow, holds prunes.
func TestSnapshotWithContentGoneFlagged(t *testing.T) {
	r := newCoverageRig(t)
	r.apply(0)
	src := r.d.Subvolumes["docs"].Source
	err := filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		return os.Truncate(path, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	held := "Every prune of docs (local and drive) waits"
	_, out := r.run("plan", "--now", r.month(1).Format(time.RFC3339))
	if !regexp.MustCompile(`snapshot looks wrong: the source holds 0 B, 0% of the [\d.]+ [KMG]iB in docs\.`).MatchString(out) || !strings.Contains(out, held) {
		t.Fatalf("plan of a source whose files lost their content does not flag it and hold prunes:\n%s", out)
	}
	if strings.Contains(out, "source looks destroyed") {
		t.Errorf("a source with every entry still there looks destroyed:\n%s", out)
	}
	if code, out := r.run("apply", "--auto-approve", "--now", r.month(1).Format(time.RFC3339)); code != 0 {
		t.Fatalf("apply (exit %d):\n%s", code, out)
	}
	_, out = r.run("plan", "--now", r.month(2).Format(time.RFC3339))
	if !regexp.MustCompile(`snapshot looks wrong: newest snapshot docs\.\S+ holds 0 B, 0% of the [\d.]+ [KMG]iB in docs\.`).MatchString(out) || !strings.Contains(out, held) {
		t.Fatalf("plan after a snapshot of the emptied files does not flag it and hold prunes:\n%s", out)
	}
	if regexp.MustCompile(`(?m)^\s+-\s+prune\s`).MatchString(out) {
		t.Errorf("plan still prunes:\n%s", out)
	}
}
