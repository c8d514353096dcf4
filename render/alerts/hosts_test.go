package alerts

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/render/internal/fixture"
	"github.com/drsync/drsync/render/internal/genfile"
)

// TestAlertRulesAcrossHosts evaluates the generated rules with promtool on
// two hosts that name their subvolume alike, with the instance and job
// labels a scrape adds: only the host whose backup failed, or whose replica
// is too old, alerts, named by its host label. Rules that aggregate or
// match on subvolume alone merge the hosts (one alert without a host) or
// fail on duplicate matches; rules that compare an aggregate with a raw
// series without on (...) never match a scraped series.
func TestAlertRulesAcrossHosts(t *testing.T) {
	promtool := promtest.Tool(t, "promtool", "prometheus")
	in := fixture.Input(t)
	byName := map[string]alert{}
	for _, a := range alerts(in) {
		byName[a.name] = a
	}
	s := in.Desired.Subvolumes["htpc-home"]
	sub := map[string]string{"subvolume": s.Name, "tier": s.Tier}
	onHost := func(h string, m map[string]string, kv ...string) map[string]string {
		return with(m, append([]string{"host", h}, kv...)...)
	}
	local := func(h string) map[string]string {
		return onHost(h, sub, "location", "local", "location_name", s.Snapshots.Location)
	}
	external := func(h string) map[string]string {
		return onHost(h, sub, "location", "external", "location_name", s.External.Location)
	}
	day := 86400.0
	// As scraped: every series also carries the target's instance and job,
	// which aggregations drop and raw series keep.
	scraped := func(m map[string]string) map[string]string {
		return with(m, "instance", "node:9100", "job", "backup-metrics")
	}
	var input []seriesSpec
	for _, h := range []string{"a", "b"} {
		input = append(input,
			seriesSpec{"backup_schedule_interval_seconds", local(h), flat(day)},
			seriesSpec{"backup_schedule_interval_seconds", external(h), flat(7 * day)},
			seriesSpec{"backup_rpo_target_seconds", onHost(h, sub), flat(in.Desired.Tiers[s.Tier].RPO.Duration.Seconds())})
	}
	// Host a backed up just now with a fresh replica; host b never did,
	// and its newest replica is 30 days old.
	input = append(input,
		seriesSpec{"backup_last_success_timestamp", onHost("a", sub), flat(0)},
		seriesSpec{"backup_newest_snapshot_timestamp", external("a"), flat(0)},
		seriesSpec{"backup_newest_snapshot_timestamp", external("b"), flat(-30 * day)})
	for i := range input {
		input[i].labels = scraped(input[i].labels)
	}
	tf := testFile{
		RuleFiles:          []string{"rules.yml"},
		EvaluationInterval: promDuration(step),
		Tests: []testGroup{
			edgeTests(in, "BackupFailed on host b only", byName["BackupFailed"], onHost("b", sub), input, fromStartTiming),
			edgeTests(in, "BackupTooOld on host b only", byName["BackupTooOld"], scraped(external("b")), input, fromStartTiming),
		},
	}
	tests, err := genfile.YAML("", tf)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := Rules(in)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fixture.WriteFile(t, filepath.Join(dir, "rules.yml"), rules)
	fixture.WriteFile(t, filepath.Join(dir, "tests.yml"), tests)
	fixture.Run(t, dir, promtool, "test", "rules", "tests.yml")
}

// TestAlertRuleTestsOfANamedHost: a named machine's generated promtool
// tests feed series with its host label, as its metrics have, and pass.
func TestAlertRuleTestsOfANamedHost(t *testing.T) {
	in := fixture.Input(t)
	in.Desired.Host = "htpc"
	tests, err := RuleTests(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(tests), `host="htpc"`) < 10 {
		t.Errorf("the tests' series lack the host label:\n%s", tests)
	}
	if out, err := promtoolRules(t, in, nil); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}
