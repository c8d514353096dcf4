package render

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/drsync/drsync/internal/promtest"
)

// TestMetricsCarryTheHost: a named machine's every sample carries its
// name; an unnamed one's none (the goldens).
func TestMetricsCarryTheHost(t *testing.T) {
	promtool := promtest.Tool(t, "promtool", "prometheus")
	in := fixedInput(t)
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
	if out, err := runStdin(promtool, strings.NewReader(string(b)), "check", "metrics"); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	in.Desired.Host = ""
	if b, _ := Metrics(in); strings.Contains(string(b), "host=") {
		t.Errorf("an unnamed machine's metrics carry a host label")
	}
}

// TestAlertRulesAcrossHosts evaluates the generated rules with promtool on
// two hosts that name their subvolume alike, with the instance and job
// labels a scrape adds: only the host whose backup failed, or whose replica
// is too old, alerts, named by its host label. Rules that aggregate or
// match on subvolume alone merge the hosts (one alert without a host) or
// fail on duplicate matches; rules that compare an aggregate with a raw
// series without on (...) never match a scraped series.
func TestAlertRulesAcrossHosts(t *testing.T) {
	promtool := promtest.Tool(t, "promtool", "prometheus")
	in := fixedInput(t)
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
			seriesSpec{"backup_rpo_target_seconds", onHost(h, sub), flat(seconds(in.Desired.Tiers[s.Tier].RPO.Duration))})
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
	tests, err := marshalYAML("", tf)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := AlertRules(in)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.yml"), rules)
	writeFile(t, filepath.Join(dir, "tests.yml"), tests)
	run(t, dir, promtool, "test", "rules", "tests.yml")
}

// TestDashboardOnHost: every selector of every panel is restricted to the
// $host variable, which lists the hosts drsync's metrics carry.
func TestDashboardOnHost(t *testing.T) {
	cases := map[string]string{
		`backup_size_bytes`: `backup_size_bytes{host=~"$host"}`,
		`time() - max by (subvolume) (backup_newest_snapshot_timestamp{location="external"})`:     `time() - max by (subvolume) (backup_newest_snapshot_timestamp{host=~"$host", location="external"})`,
		`max by (alertname, host, location_name) (ALERTS_FOR_STATE{category=~"x"}) or 0 * ALERTS`: `max by (alertname, host, location_name) (ALERTS_FOR_STATE{host=~"$host", category=~"x"}) or 0 * ALERTS{host=~"$host"}`,
		`backup_restore_tests_passed_total / backup_restore_tests_total`:                          `backup_restore_tests_passed_total{host=~"$host"} / backup_restore_tests_total{host=~"$host"}`,
	}
	for in, want := range cases {
		if got := onHost(in); got != want {
			t.Errorf("onHost(%s)\n got %s\nwant %s", in, got, want)
		}
	}
	b, d := renderDashboard(t)
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			if n, h := len(metricNames(q.Expr)), strings.Count(q.Expr, `host=~"$host"`); n != h {
				t.Errorf("panel %q: %d selectors, %d on $host: %s", p.Title, n, h, q.Expr)
			}
		}
	}
	if !strings.Contains(string(b), `"query": "label_values(backup_rpo_target_seconds, host)"`) {
		t.Errorf("no host variable")
	}
}

// TestAlertRuleTestsOfANamedHost: a named machine's generated promtool
// tests feed series with its host label, as its metrics have, and pass.
func TestAlertRuleTestsOfANamedHost(t *testing.T) {
	in := fixedInput(t)
	in.Desired.Host = "htpc"
	tests, err := AlertRuleTests(in)
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
