package render

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/drsync/drsync/render/alerts"
	"github.com/drsync/drsync/render/dashboard"
	"github.com/drsync/drsync/render/internal/fixture"
)

// The golden input exercises every off-site family, and nothing unknown
// is written as a fake 0: subvol3-opptak's target was not observed (no
// copy count), htpc-root has no off-site evidence at all.
func TestOffsiteMetrics(t *testing.T) {
	b, err := Metrics(fixture.Input(t))
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`fqName: "([^"]+)"`)
	for _, d := range offsiteMetrics {
		n := name.FindStringSubmatch(d.String())[1]
		if !bytes.Contains(b, []byte("\n"+n+"{")) {
			t.Errorf("%s has no sample in the golden input", n)
		}
	}
	m := string(b)
	for _, absent := range []string{
		`backup_offsite_copies{subvolume="subvol3-opptak"`,
		`backup_offsite_newest_snapshot_timestamp{subvolume="htpc-root"`,
		`backup_offsite_restore_test_success{subvolume="htpc-root"`,
		`backup_offsite_drill_interval_seconds{subvolume="subvol1-docs"`, // tier 2 asks for no drills
	} {
		if strings.Contains(m, absent) {
			t.Errorf("metrics contain %s", absent)
		}
	}
	for _, present := range []string{
		`backup_offsite_restore_test_success{subvolume="subvol3-opptak",target="s3-secondary",target_kind="s3",tier="1"} 0`,
		`backup_offsite_age_seconds{subvolume="htpc-home",target="s3-secondary",target_kind="s3",tier="1"} 34200`,
		`backup_offsite_interval_seconds{subvolume="htpc-root",target="s3-secondary",target_kind="s3",tier="2"} 604800`,
		// a service's archives go off-site at each of its backups
		`backup_offsite_interval_seconds{subvolume="app-db",target="s3-secondary",target_kind="s3",tier="svc-hourly"} 3600`,
		`backup_offsite_restore_test_interval_seconds{subvolume="htpc-home",target="s3-secondary",target_kind="s3",tier="1"} 2.592e+06`,
	} {
		if !strings.Contains(m, present) {
			t.Errorf("metrics lack %s", present)
		}
	}
}

// A desired state without targets has no off-site rules, tests or panels.
func TestOffsiteAbsentWithoutTargets(t *testing.T) {
	in := fixture.Input(t)
	for _, s := range in.Desired.Subvolumes {
		s.Offsite = nil
	}
	for _, s := range in.Desired.Services {
		s.Offsite = nil
	}
	rules, err := alerts.Rules(in)
	if err != nil {
		t.Fatal(err)
	}
	dash, err := dashboard.Render(in)
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := Metrics(in)
	if err != nil {
		t.Fatal(err)
	}
	for what, b := range map[string][]byte{"rules": rules, "dashboard": dash, "metrics": metrics} {
		if bytes.Contains(b, []byte("offsite")) || bytes.Contains(b, []byte("Offsite")) {
			t.Errorf("%s mention off-site without a declared off-site copy", what)
		}
	}
}
