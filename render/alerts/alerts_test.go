package alerts

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/render/internal/fixture"
	"github.com/drsync/drsync/render/runbook"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

// promtoolRules writes the rule file and its tests side by side, as
// Generate names them, checks the rules and runs the tests.
func promtoolRules(t *testing.T, in view.Input, mutate func(rules string) string) (string, error) {
	t.Helper()
	promtool := promtest.Tool(t, "promtool", "prometheus")
	rules, err := Rules(in)
	if err != nil {
		t.Fatal(err)
	}
	tests, err := RuleTests(in)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	g := in.Desired.Generate
	r := string(rules)
	if mutate != nil {
		r = mutate(r)
	}
	fixture.WriteFile(t, filepath.Join(dir, filepath.Base(g.AlertRules)), []byte(r))
	fixture.WriteFile(t, filepath.Join(dir, filepath.Base(g.AlertTests)), tests)
	fixture.Run(t, dir, promtool, "check", "rules", filepath.Base(g.AlertRules))
	return fixture.RunErr(dir, promtool, "test", "rules", filepath.Base(g.AlertTests))
}

func TestAlertRulesPromtool(t *testing.T) {
	if out, err := promtoolRules(t, fixture.Input(t), nil); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// TestAlertRulesOtherShapes renders the rules and tests for interval
// schedules, no external drive and no drills, and runs them.
func TestAlertRulesOtherShapes(t *testing.T) {
	in := fixture.Input(t)
	d := in.Desired
	for name, tier := range d.Tiers {
		tier.Drill = nil
		tier.RestoreTest.Every = schema.Duration{Duration: 7 * 24 * time.Hour}
		d.Tiers[name] = tier
	}
	every6h, err := schema.ParseSchedule("every 6h")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range d.Subvolumes {
		s.Snapshots.Schedule = every6h
		s.External = nil
	}
	if out, err := promtoolRules(t, in, nil); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	rules, err := Rules(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rules), "ExternalDriveNotSeen") {
		t.Error("a drive alert without external locations")
	}
}

// TestAlertRuleTestsCatchShiftedThresholds proves the unit tests pin the
// edges: moving a threshold by a minute or two, or a comparison by its
// equality, makes them fail, naming the alert.
func TestAlertRuleTestsCatchShiftedThresholds(t *testing.T) {
	for _, m := range []struct{ name, old, new string }{
		{"BackupFailed", "> on (host, subvolume, tier) 2 * min by", "> on (host, subvolume, tier) 2.001 * min by"},
		{"RestoreTestOverdue", "> 1.2 * backup_restore_test_interval_seconds", "> 1.2001 * backup_restore_test_interval_seconds"},
		{"BackupTooOld", "group_left backup_rpo_target_seconds", "group_left backup_rpo_target_seconds - 60"},
		{"RTOAboveTarget", "backup_rto_measured_seconds > backup_rto_target_seconds", "backup_rto_measured_seconds >= backup_rto_target_seconds"},
		{"ExternalDriveNotSeen", "backup_external_drive_interval_seconds + 86400", "backup_external_drive_interval_seconds + 86500"},
		{"OffsiteTooOld", "> 2 * backup_offsite_interval_seconds", "> 2.001 * backup_offsite_interval_seconds"},
		{"OffsiteTestFailed", "(backup_offsite_drill_success == 0)", "(backup_offsite_drill_success == 2)"},
		{"OffsiteTestOverdue", "> 1.2 * backup_offsite_restore_test_interval_seconds", "> 1.2001 * backup_offsite_restore_test_interval_seconds"},
		// The coverage alert fires below its target, never at it.
		{"CoverageBelowTarget", "backup_coverage_verified_ratio < on", "backup_coverage_verified_ratio <= on"},
	} {
		t.Run(m.name, func(t *testing.T) {
			out, err := promtoolRules(t, fixture.Input(t), func(r string) string {
				if !strings.Contains(r, m.old) {
					t.Fatalf("rules lack %q", m.old)
				}
				return strings.Replace(r, m.old, m.new, 1)
			})
			if err == nil {
				t.Fatalf("tests pass with %q:\n%s", m.new, out)
			}
			if !strings.Contains(out, m.name) {
				t.Errorf("failure does not name %s:\n%s", m.name, out)
			}
		})
	}
}

func TestAlertAnnotations(t *testing.T) {
	in := fixture.Input(t)
	for _, a := range alerts(in) {
		if a.summary == "" || a.description == "" || a.runbook == "" {
			t.Errorf("%s lacks summary, description or runbook", a.name)
		}
		subject := "{{ $labels.subvolume }}"
		switch {
		case a.name == "ExternalDriveNotSeen":
			continue
		case strings.HasPrefix(a.name, "Rehearsal"):
			subject = "{{ $labels.runbook }}"
		}
		if !strings.Contains(a.summary, subject) {
			t.Errorf("%s summary does not name its subject %s: %q", a.name, subject, a.summary)
		}
	}
	// A rehearsal alert links the runbook it is about.
	for _, id := range runbook.IDs() {
		got := expandRunbook(in, rehearsalRunbook(in), map[string]string{"runbook": id})
		if !strings.HasPrefix(filepath.Base(got), id+"-") {
			t.Errorf("runbook of a %s rehearsal = %s", id, got)
		}
	}
	// htpc-home is on the system disk, subvol1-docs in the pool.
	for sub, want := range map[string]string{"htpc-home": runbook.System, "subvol1-docs": runbook.Pool} {
		got := expandRunbook(in, subvolumeRunbook(in), map[string]string{"subvolume": sub})
		if filepath.Base(got) != want {
			t.Errorf("runbook of %s = %s, want %s", sub, got, want)
		}
	}
}

// TestAlertRulesLintAnyShape renders the rules and their unit tests for
// desired states unlike the example, and wants promtool to accept both
// with every lint fatal: two drives must not give two rules promtool takes
// for duplicates, and neither a missing drive nor a state of services
// alone may leave the tests without a subject.
func TestAlertRulesLintAnyShape(t *testing.T) {
	for name, shape := range map[string]func(d *schema.Desired){
		"example": func(*schema.Desired) {},
		"two drives": func(d *schema.Desired) {
			second := d.Locations["WD-18TB"]
			second.Mount, second.Path = "/run/media/patriark/WD-4TB", "/run/media/patriark/WD-4TB/.snapshots"
			d.Locations["WD-4TB"] = second
			for _, n := range []string{"subvol1-docs", "subvol2-pics"} {
				d.Subvolumes[n].External.Location = "WD-4TB"
			}
		},
		"no drive": func(d *schema.Desired) {
			for _, s := range d.Subvolumes {
				s.External = nil
			}
			for _, s := range d.Services {
				s.External = nil
			}
			delete(d.Locations, "WD-18TB")
		},
		"services only": func(d *schema.Desired) { d.Subvolumes = map[string]*schema.Subvolume{} },
	} {
		t.Run(name, func(t *testing.T) {
			in := fixture.Input(t)
			shape(in.Desired)
			promtool := promtest.Tool(t, "promtool", "prometheus")
			rules, err := Rules(in)
			if err != nil {
				t.Fatal(err)
			}
			tests, err := RuleTests(in)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			g := in.Desired.Generate
			fixture.WriteFile(t, filepath.Join(dir, filepath.Base(g.AlertRules)), rules)
			fixture.WriteFile(t, filepath.Join(dir, filepath.Base(g.AlertTests)), tests)
			if out, err := fixture.RunErr(dir, promtool, "check", "rules", "--lint=all", "--lint-fatal", filepath.Base(g.AlertRules)); err != nil {
				t.Errorf("promtool check rules --lint-fatal: %v\n%s", err, out)
			}
			if out, err := fixture.RunErr(dir, promtool, "test", "rules", filepath.Base(g.AlertTests)); err != nil {
				t.Errorf("promtool test rules: %v\n%s", err, out)
			}
			if name != "two drives" {
				return
			}
			// WD-4TB holds pool subvolumes only; WD-18TB the system disk's too.
			want := map[string]string{"WD-4TB": runbook.Pool, "WD-18TB": runbook.Total}
			for _, a := range alerts(in) {
				if drive := a.labels["location_name"]; a.name == "ExternalDriveNotSeen" && filepath.Base(a.runbook) != want[drive] {
					t.Errorf("ExternalDriveNotSeen for %s points at %s, want %s", drive, a.runbook, want[drive])
				}
			}
		})
	}
}
