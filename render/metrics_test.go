package render

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/render/internal/fixture"
	"github.com/drsync/drsync/render/view"
)

func TestMetricsPromtoolCheck(t *testing.T) {
	promtool := promtest.Tool(t, "promtool", "prometheus")
	b, err := Metrics(fixture.Input(t))
	if err != nil {
		t.Fatal(err)
	}
	cmd := strings.NewReader(string(b))
	out, err := fixture.RunStdin(promtool, cmd, "check", "metrics")
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestMetricsOmitUnknown checks that nothing unknown is written as a fake
// 0, while the targets the alerts compare against are always there.
func TestMetricsOmitUnknown(t *testing.T) {
	b, err := Metrics(fixture.Input(t))
	if err != nil {
		t.Fatal(err)
	}
	m := string(b)
	for _, absent := range []string{
		// never tested
		`backup_restore_test_success{subvolume="subvol7-containers"`,
		`backup_restore_test_last_run_timestamp{subvolume="subvol7-containers"`,
		`backup_verified_snapshot_timestamp{subvolume="subvol7-containers"`,
		// failed drill: no measured RTO
		`backup_rto_measured_seconds{subvolume="subvol7-containers"`,
		// nothing known about htpc-root
		`backup_last_success_timestamp{subvolume="htpc-root"`,
		`subvolume="htpc-root",tier="2"} 0`,
		// no replica of subvol2-pics yet
		`backup_newest_snapshot_timestamp{location="external",location_name="WD-18TB",subvolume="subvol2-pics"`,
		`backup_size_bytes{subvolume="subvol2-pics"`,
		// tier 2 asks for no drills
		`backup_drill_interval_seconds{subvolume="subvol1-docs"`,
		// a drill recorded before restore and verification were timed apart
		`backup_drill_restore_seconds{subvolume="subvol3-opptak"`,
		`backup_drill_verify_seconds{subvolume="subvol3-opptak"`,
	} {
		if strings.Contains(m, absent) {
			t.Errorf("metrics contain %s", absent)
		}
	}
	for _, present := range []string{
		`backup_restore_test_success{subvolume="subvol3-opptak",tier="1"} 0`,
		`backup_restore_test_interval_seconds{subvolume="subvol7-containers",tier="1"} 2.592e+06`,
		`backup_rpo_target_seconds{subvolume="htpc-root",tier="2"} 2.592e+06`,
		`backup_rto_target_seconds{subvolume="htpc-home",tier="1"} 1800`,
		`backup_rto_measured_seconds{subvolume="subvol3-opptak",tier="1"} 32400`,
		// the RTO is the restore; the verification is reported next to it
		`backup_rto_measured_seconds{subvolume="htpc-home",tier="1"} 1140`,
		`backup_drill_restore_seconds{subvolume="htpc-home",tier="1"} 1140`,
		`backup_drill_verify_seconds{subvolume="htpc-home",tier="1"} 360`,
		`backup_drill_duration_seconds{subvolume="htpc-home",tier="1"} 1500`,
		`backup_snapshots{location="external",location_name="WD-18TB",subvolume="subvol2-pics",tier="3"} 0`,
		`backup_drill_interval_seconds{subvolume="htpc-home",tier="1"} 7.776e+06`,
		"# TYPE drsync_reconcile_runs_total counter",
		"# TYPE backup_restore_tests_total counter",
		`drsync_reconcile_last_result{result="applied"} 1`,
	} {
		if !strings.Contains(m, present) {
			t.Errorf("metrics lack %s", present)
		}
	}
}

// TestMetricsEveryFamily checks the golden input exercises every metric,
// so the golden file and the dashboard's name check cover them all.
func TestMetricsEveryFamily(t *testing.T) {
	b, err := Metrics(fixture.Input(t))
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`fqName: "([^"]+)"`)
	for _, d := range allMetrics {
		n := name.FindStringSubmatch(d.String())[1]
		if !bytes.Contains(b, []byte("\n"+n+"{")) && !bytes.Contains(b, []byte("\n"+n+" ")) {
			t.Errorf("%s has no sample in the golden input", n)
		}
	}
}

func TestMetricsDeterministic(t *testing.T) {
	in := fixture.Input(t)
	a, err := Metrics(in)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		b, err := Metrics(in)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatal("two renders of one input differ")
		}
	}
}

func TestRegistryNothingKnown(t *testing.T) {
	in := fixture.Input(t)
	in.Subvolumes, in.Reconcile, in.ExternalSeen, in.Rehearsals = nil, view.ReconcileStatus{}, nil, nil
	reg, err := Registry(in)
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
	}
	want := []string{"backup_rpo_target_seconds", "backup_rto_target_seconds", "backup_restore_test_interval_seconds",
		"backup_drill_interval_seconds", "backup_schedule_interval_seconds", "backup_external_drive_interval_seconds",
		"backup_rehearsal_interval_seconds",
		"backup_offsite_interval_seconds", "backup_offsite_restore_test_interval_seconds", "backup_offsite_drill_interval_seconds",
		"backup_coverage_target_ratio", "backup_coverage_window_seconds"}
	if len(got) != len(want) {
		t.Errorf("families with nothing known: %v, want only the targets %v", got, want)
	}
	for _, n := range want {
		if !got[n] {
			t.Errorf("missing target %s", n)
		}
	}
}

// TestMetricsCarryTheHost: a named machine's every sample carries its
// name; an unnamed one's none (the goldens).
func TestMetricsCarryTheHost(t *testing.T) {
	promtool := promtest.Tool(t, "promtool", "prometheus")
	in := fixture.Input(t)
	in.Desired.Host = "htpc"
	b, err := Metrics(in)
	if err != nil {
		t.Fatal(err)
	}
	samples := regexp.MustCompile(`(?m)^[a-z_]+(\{[^}]*\})? `).FindAllStringSubmatch(string(b), -1)
	if len(samples) < 50 {
		t.Fatalf("only %d samples", len(samples))
	}
	for _, s := range samples {
		if !strings.Contains(s[1], `host="htpc"`) {
			t.Errorf("sample without the host: %s", s[0])
		}
	}
	if out, err := fixture.RunStdin(promtool, strings.NewReader(string(b)), "check", "metrics"); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	in.Desired.Host = ""
	if b, _ := Metrics(in); strings.Contains(string(b), "host=") {
		t.Errorf("an unnamed machine's metrics carry a host label")
	}
}
