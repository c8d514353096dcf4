package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/render"
	"github.com/drsync/drsync/render/view"
)

// received is one request a stand-in receiver got.
type received struct {
	path, query, auth string
	body              []byte
}

// chatReceiver stands in for Discord (its Slack-compatible endpoint) and
// an ntfy server, recording what arrives.
type chatReceiver struct {
	mu  sync.Mutex
	got []received
}

func (c *chatReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.got = append(c.got, received{path: r.URL.Path, query: r.URL.RawQuery, auth: r.Header.Get("Authorization"), body: body})
	c.mu.Unlock()
}

// wait returns the first request to path that match accepts.
func (c *chatReceiver) wait(t *testing.T, path string, match func(received) bool, limit time.Duration) received {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		c.mu.Lock()
		for _, r := range c.got {
			if r.path == path && match(r) {
				c.mu.Unlock()
				return r
			}
		}
		c.mu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t.Fatalf("nothing matching arrived at %s within %s; got %d requests: %+v", path, limit, len(c.got), c.got)
	return received{}
}

// The alerting part of the desired state under test: the machine's name,
// Discord for the team, ntfy for the phone, both for critical alerts, fast
// grouping.
const alertingCUE = `package drsync

host: "host-b"

alerting: {
	receiver:      "chat"
	groupWait:     "1s"
	groupInterval: "1s"
	receivers: {
		chat: {kind: "discord", urlFile: "\(root)/secrets/discord-url"}
		phone: {kind: "ntfy", url: "%s/ntfy/drsync-alerts", tokenFile: "\(root)/secrets/ntfy-token"}
	}
	routes: [
		{receiver: "phone", severity: "critical", continue: true},
		{receiver: "chat", severity: "critical"},
	]
}
`

// TestRestoreTestFailedReachesPeople is the whole chain with real parts:
// drsync apply generates the rules and the Alertmanager config, `drsync
// test` finds a damaged replica, a real node_exporter serves the metrics,
// a real Prometheus evaluates the generated rules and sends to a real
// Alertmanager running the generated config (checked by amtool first),
// which delivers RestoreTestFailed to a Discord and an ntfy stand-in on
// 127.0.0.1, naming the subvolume, the host and the runbook. The secrets
// (Discord's webhook token, ntfy's access token) reach Alertmanager only
// from files.
func TestRestoreTestFailedReachesPeople(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus, node_exporter and Alertmanager")
	}
	amtool := promtest.Tool(t, "amtool", "prometheus-alertmanager")
	promtest.Tool(t, "prometheus-alertmanager", "prometheus-alertmanager")
	stack := promtest.NewStack(t)
	chat := &chatReceiver{}
	srv := httptest.NewServer(chat)
	t.Cleanup(srv.Close)

	// small.cue plus the alerting part, as one package.
	cue := t.TempDir()
	small, err := os.ReadFile("../../testdata/desired/small.cue")
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(cue, "small.cue"), small)
	writeTestFile(t, filepath.Join(cue, "alerting.cue"), fmt.Appendf(nil, alertingCUE, srv.URL))
	r := newFaultRigFrom(t, t.TempDir(), cue)
	const discordToken, ntfyToken = "wh-token-7f3a", "tk_ntfy_51c9"
	writeTestFile(t, filepath.Join(r.dir, "secrets", "discord-url"), []byte(srv.URL+"/discord/1234/"+discordToken+"/slack\n"))
	writeTestFile(t, filepath.Join(r.dir, "secrets", "ntfy-token"), []byte(ntfyToken+"\n"))

	amConfig := r.d.Generate.Alertmanager
	if out, err := exec.Command(amtool, "check-config", amConfig).CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config on the config apply wrote: %v\n%s", err, out)
	}
	cfg, _ := os.ReadFile(amConfig)
	if bytes.Contains(cfg, []byte(discordToken)) || bytes.Contains(cfg, []byte(ntfyToken)) {
		t.Fatalf("a secret is in the generated config:\n%s", cfg)
	}

	rel := someFile(t, r.replica)
	tamper(t, r.replica, func() { os.WriteFile(filepath.Join(r.replica, rel), []byte("rot"), 0o644) })
	if code, out := r.run("test", "--subvolume", "docs", "--sample-size", "100000"); code != 1 {
		t.Fatalf("test of a damaged replica: exit %d\n%s", code, out)
	}

	stack.AlertmanagerAddr = promtest.StartAlertmanager(t, amConfig)
	d := *r.d
	d.Generate.NodeExporter = stack.NodeAddr
	scrape, err := render.ScrapeConfig(view.Input{Desired: &d, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	stack.Start(t, filepath.Dir(d.Generate.Metrics), promtest.ShortFor(t, d.Generate.AlertRules), scrape)

	runbook := filepath.Join(d.Generate.Runbooks, "DR-002-btrfs-pool-corruption.md")
	isRestoreTestFailed := func(text string) bool {
		return strings.Contains(text, "RestoreTestFailed") && strings.Contains(text, "docs") &&
			strings.Contains(text, "host-b") && strings.Contains(text, runbook)
	}
	discord := chat.wait(t, "/discord/1234/"+discordToken+"/slack", func(r received) bool {
		var msg struct {
			Attachments []struct{ Title, Text string } `json:"attachments"`
		}
		if json.Unmarshal(r.body, &msg) != nil || len(msg.Attachments) == 0 {
			return false
		}
		return isRestoreTestFailed(msg.Attachments[0].Title + "\n" + msg.Attachments[0].Text)
	}, 90*time.Second)
	t.Logf("Discord got: %s", discord.body)

	ntfy := chat.wait(t, "/ntfy/drsync-alerts", func(r received) bool {
		return strings.Contains(string(r.body), `"alertname":"RestoreTestFailed"`)
	}, 30*time.Second)
	if ntfy.auth != "Bearer "+ntfyToken {
		t.Errorf("ntfy got Authorization %q, want the token from its file", ntfy.auth)
	}
	// ntfy renders the message from Alertmanager's JSON with Go templates:
	// do what it does, and read what the phone would show.
	msg := ntfyMessage(t, ntfy)
	if !isRestoreTestFailed(msg) {
		t.Errorf("ntfy message does not name the alert, subvolume, host and runbook:\n%s", msg)
	}

	// The dashboard's "Recent alerts" table, as apply wrote it, asked of
	// the same Prometheus: the alert is there, active, and firing now.
	since, now := recentAlertsRow(t, d.Generate.Dashboard, stack.PromAddr, "RestoreTestFailed", "docs", "host-b")
	if since <= 0 || now != 1 {
		t.Errorf("Recent alerts row for RestoreTestFailed/docs/host-b: active since %v, now %v; want a time and 1 (firing)", since, now)
	}
}

// recentAlertsRow runs the queries of the dashboard's "Recent alerts"
// panel against Prometheus and returns the values of the row of one alert.
func recentAlertsRow(t *testing.T, dashboard, promAddr, alertname, subvolume, host string) (since, now float64) {
	t.Helper()
	b, err := os.ReadFile(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	var values []float64
	for _, p := range dash.Panels {
		if !strings.HasPrefix(p.Title, "Recent alerts") {
			continue
		}
		for _, q := range p.Targets {
			// Grafana puts the chosen host where the panel says $host.
			expr := strings.ReplaceAll(q.Expr, "$host", host)
			v, ok := instantValue(t, promAddr, expr, map[string]string{"alertname": alertname, "subvolume": subvolume, "host": host})
			if !ok {
				t.Fatalf("no row for %s/%s/%s from %q", alertname, subvolume, host, expr)
			}
			values = append(values, v)
		}
	}
	if len(values) != 2 {
		t.Fatalf("Recent alerts panel: want 2 queries, ran %d", len(values))
	}
	return values[0], values[1]
}

// instantValue asks Prometheus for expr and returns the value of the
// series carrying labels.
func instantValue(t *testing.T, promAddr, expr string, labels map[string]string) (float64, bool) {
	t.Helper()
	resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("query %q: %v %s", expr, err, body.Error)
	}
next:
	for _, r := range body.Data.Result {
		for k, v := range labels {
			if r.Metric[k] != v {
				continue next
			}
		}
		var f float64
		if s, ok := r.Value[1].(string); ok {
			fmt.Sscan(s, &f)
		}
		return f, true
	}
	return 0, false
}

// ntfyMessage executes the message template the request carries (ntfy's
// tpl=yes, m=…) on its JSON body.
func ntfyMessage(t *testing.T, r received) string {
	t.Helper()
	q, err := url.ParseQuery(r.query)
	if err != nil || q.Get("tpl") != "yes" || q.Get("m") == "" {
		t.Fatalf("ntfy request lacks a message template: %q (%v)", r.query, err)
	}
	tmpl, err := template.New("m").Parse(q.Get("m"))
	if err != nil {
		t.Fatalf("ntfy message template: %v", err)
	}
	var payload any
	if err := json.Unmarshal(r.body, &payload); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := tmpl.Execute(&out, payload); err != nil {
		t.Fatalf("ntfy message template on Alertmanager's payload: %v", err)
	}
	return out.String()
}

func writeTestFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
