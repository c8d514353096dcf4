package render

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
	b, err := Dashboard(fixedInput(t))
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
	metrics, err := Metrics(fixedInput(t))
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
			names := metricNames(q.Expr)
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
	writeFile(t, filepath.Join(dir, "dashboard.rules.yml"), []byte(rules.String()))
	run(t, dir, promtool, "check", "rules", "dashboard.rules.yml")
}

var (
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent    = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	promKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
)

// metricNames returns the metric names a PromQL expression selects: the
// identifiers left after strings, matchers, ranges and grouping labels are
// removed that are neither keywords nor called as functions.
func metricNames(expr string) []string {
	s := promString.ReplaceAllString(expr, `""`)
	s = promMatchers.ReplaceAllString(s, " ")
	s = promGrouping.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range promIdent.FindAllStringIndex(s, -1) {
		id := s[loc[0]:loc[1]]
		if loc[0] > 0 && (s[loc[0]-1] >= '0' && s[loc[0]-1] <= '9' || s[loc[0]-1] == '.') {
			continue // exponent of a number
		}
		if promKeywords[id] || strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " "), "(") {
			continue
		}
		out = append(out, id)
	}
	return out
}

func TestMetricNames(t *testing.T) {
	got := metricNames(`max by (subvolume) (time() - a_b{x="y(z)"}[5m]) > on (subvolume) group_left c_d * 1e3 or vector(0) unless ALERTS`)
	if strings.Join(got, ",") != "a_b,c_d,ALERTS" {
		t.Errorf("metricNames = %q", got)
	}
}

// TestDashboardGrafanaSchema type-checks the dashboard against the
// Dashboard type of @grafana/schema (pinned in tools/grafana-schema).
func TestDashboardGrafanaSchema(t *testing.T) {
	node := promtest.Tool(t, "node", "nodejs")
	npm := promtest.Tool(t, "npm", "npm")
	dir, err := filepath.Abs("../tools/grafana-schema")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "typescript")); err != nil {
		if out, err := runErr(dir, npm, "ci", "--no-audit", "--no-fund"); err != nil {
			t.Skipf("npm ci in %s failed (offline?): %v\n%s", dir, err, out)
		}
	}
	b, _ := renderDashboard(t)
	f := filepath.Join(t.TempDir(), "dashboard.json")
	writeFile(t, f, b)
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
