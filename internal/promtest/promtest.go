// Package promtest runs a real Prometheus and node_exporter on loopback
// for tests: the generated scrape config, rules and metrics textfile are
// checked by the programs that consume them.
package promtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Stack is a node_exporter reading TextfileDir and a Prometheus scraping
// it every second.
type Stack struct {
	NodeAddr, PromAddr string
	// AlertmanagerAddr, when set before Start, is where Prometheus sends
	// its alerts.
	AlertmanagerAddr string
	dir              string
}

// Tool returns the path of a program, skipping the test (with how to get
// it) when it is missing.
func Tool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (apt-get install %s): %v", name, pkg, err)
	}
	return p
}

// NewStack reserves loopback ports; start it with Start once the scrape
// config (which needs NodeAddr) is rendered.
func NewStack(t testing.TB) *Stack {
	t.Helper()
	Tool(t, "prometheus", "prometheus")
	Tool(t, "prometheus-node-exporter", "prometheus-node-exporter")
	return &Stack{NodeAddr: FreeAddr(t), PromAddr: FreeAddr(t), dir: t.TempDir()}
}

// Start runs both servers for the rest of the test: node_exporter with
// only the textfile collector on textfileDir, Prometheus with the rules
// file and the scrape config snippet at one-second intervals.
func (s *Stack) Start(t testing.TB, textfileDir, rulesFile string, scrape []byte) {
	t.Helper()
	cfg := []byte(fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - %s\n", rulesFile))
	if s.AlertmanagerAddr != "" {
		cfg = fmt.Appendf(cfg, "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [%q]\n", s.AlertmanagerAddr)
	}
	cfg = append(cfg, scrape...)
	if err := os.WriteFile(filepath.Join(s.dir, "prometheus.yml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "prometheus-node-exporter", "--web.listen-address="+s.NodeAddr, "--collector.disable-defaults",
		"--collector.textfile", "--collector.textfile.directory="+textfileDir)
	run(t, "prometheus", "--config.file="+filepath.Join(s.dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(s.dir, "data"), "--web.listen-address="+s.PromAddr)
}

// WaitAlerts polls Prometheus until every "alertname/subvolume" in want is
// pending or firing, failing the test after limit.
func (s *Stack) WaitAlerts(t testing.TB, want []string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last string
	for time.Now().Before(deadline) {
		alerts, err := activeAlerts("http://" + s.PromAddr + "/api/v1/alerts")
		if err == nil {
			found := 0
			for _, w := range want {
				if state := alerts[w]; state == "pending" || state == "firing" {
					found++
				}
			}
			if found == len(want) {
				return
			}
			last = fmt.Sprint(alerts)
		} else {
			last = err.Error()
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("alerts %v not pending or firing within %s; last answer: %s", want, limit, last)
}

// FreeAddr returns a loopback address with a port free right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// run starts a server for the rest of the test, killing it at cleanup and
// showing its output if the test failed.
func run(t testing.TB, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
			t.Logf("%s output:\n%s", name, strings.Join(lines[max(0, len(lines)-30):], "\n"))
		}
	})
}

// activeAlerts returns the state of each alert by "alertname/subvolume".
func activeAlerts(url string) (map[string]string, error) {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", url, err)
	}
	out := map[string]string{}
	for _, a := range body.Data.Alerts {
		out[a.Labels["alertname"]+"/"+a.Labels["subvolume"]] = a.State
	}
	return out, nil
}
