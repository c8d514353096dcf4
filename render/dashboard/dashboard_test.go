package dashboard

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/render/internal/fixture"
)

// dashboardShape is what the tests read back from the JSON.
type dashboardShape struct {
	Panels []struct {
		ID      int     `json:"id"`
		Title   string  `json:"title"`
		GridPos gridPos `json:"gridPos"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func renderDashboard(t *testing.T) ([]byte, dashboardShape) {
	t.Helper()
	b, err := Render(fixture.Input(t))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboardShape
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Panels) == 0 {
		t.Fatal("no panels")
	}
	return b, d
}

func TestDashboardLayout(t *testing.T) {
	_, d := renderDashboard(t)
	ids := map[int]string{}
	for i, p := range d.Panels {
		if other, ok := ids[p.ID]; ok {
			t.Errorf("panels %q and %q share id %d", p.Title, other, p.ID)
		}
		ids[p.ID] = p.Title
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > gridWidth {
			t.Errorf("panel %q: gridPos %+v outside the grid", p.Title, g)
		}
		for _, q := range d.Panels[:i] {
			o := q.GridPos
			if g.X < o.X+o.W && o.X < g.X+g.W && g.Y < o.Y+o.H && o.Y < g.Y+g.H {
				t.Errorf("panels %q %+v and %q %+v overlap", p.Title, g, q.Title, o)
			}
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
	}
}

// TestDashboardQueries checks every query parses as PromQL (promtool
// checks it as a recording rule) and uses only metrics drsync exports.
func TestDashboardQueries(t *testing.T) {
	_, d := renderDashboard(t)
	// The golden textfile is what drsync exports for the same input.
	metrics, err := os.ReadFile(filepath.Join(fixture.GoldenDir, "drsync.prom"))
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{"ALERTS": true, "ALERTS_FOR_STATE": true}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+)`).FindAllStringSubmatch(string(metrics), -1) {
		exported[m[1]] = true
	}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			names := fixture.MetricNames(q.Expr)
			if len(names) == 0 {
				t.Errorf("panel %q: no metric in %q", p.Title, q.Expr)
			}
			for _, name := range names {
				if !exported[name] {
					t.Errorf("panel %q: %s is not a metric drsync exports (%q)", p.Title, name, q.Expr)
				}
			}
			n++
			fmt.Fprintf(&rules, "      - record: dashboard:query%d\n        expr: %q\n", n, q.Expr)
		}
	}
	promtool := promtest.Tool(t, "promtool", "prometheus")
	dir := t.TempDir()
	fixture.WriteFile(t, filepath.Join(dir, "dashboard.rules.yml"), []byte(rules.String()))
	fixture.Run(t, dir, promtool, "check", "rules", "dashboard.rules.yml")
}

// TestDashboardGrafanaSchema type-checks the dashboard against the
// Dashboard type of @grafana/schema (pinned in tools/grafana-schema).
func TestDashboardGrafanaSchema(t *testing.T) {
	node := promtest.Tool(t, "node", "nodejs")
	npm := promtest.Tool(t, "npm", "npm")
	dir := filepath.Join(fixture.Repo, "tools/grafana-schema")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "typescript")); err != nil {
		if out, err := fixture.RunErr(dir, npm, "ci", "--no-audit", "--no-fund"); err != nil {
			t.Skipf("npm ci in %s failed (offline?): %v\n%s", dir, err, out)
		}
	}
	b, _ := renderDashboard(t)
	f := filepath.Join(t.TempDir(), "dashboard.json")
	fixture.WriteFile(t, f, b)
	cmd := exec.Command(node, "check.mjs", f)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dashboard does not match @grafana/schema: %v\n%s", err, out)
	}
}

// TestDashboardThresholdsFromTiers checks the status colours come from the
// desired state: htpc-home (tier 1, RPO 7d) turns red at 7 days.
func TestDashboardThresholdsFromTiers(t *testing.T) {
	b, _ := renderDashboard(t)
	var d struct {
		Panels []struct {
			Title       string `json:"title"`
			FieldConfig struct {
				Overrides []struct {
					Matcher    matcher `json:"matcher"`
					Properties []struct {
						Value json.RawMessage `json:"value"`
					} `json:"properties"`
				} `json:"overrides"`
			} `json:"fieldConfig"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	p := d.Panels[0]
	for _, o := range p.FieldConfig.Overrides {
		if o.Matcher.Options != "htpc-home" {
			continue
		}
		var th thresholds
		if err := json.Unmarshal(o.Properties[0].Value, &th); err != nil {
			t.Fatal(err)
		}
		steps := th.Steps
		if len(steps) != 3 || steps[2].Color != "red" || *steps[2].Value != 7*24*3600 {
			t.Errorf("%s thresholds of htpc-home: %+v", p.Title, steps)
		}
		return
	}
	t.Errorf("%s has no override for htpc-home", p.Title)
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
			if n, h := len(fixture.MetricNames(q.Expr)), strings.Count(q.Expr, `host=~"$host"`); n != h {
				t.Errorf("panel %q: %d selectors, %d on $host: %s", p.Title, n, h, q.Expr)
			}
		}
	}
	if !strings.Contains(string(b), `"query": "label_values(backup_rpo_target_seconds, host)"`) {
		t.Errorf("no host variable")
	}
}
