package render

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEndToEndPrometheus runs a real node_exporter serving the metrics
// textfile and a real Prometheus scraping it with the generated scrape
// config and rules, on loopback with one-second intervals, and waits for
// RestoreTestFailed (subvol3-opptak's newest test failed) and
// RestoreTestOverdue (subvol7-containers was never tested: no sample at
// all) to become pending.
func TestEndToEndPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus and node_exporter")
	}
	prom := tool(t, "prometheus", "prometheus")
	nodeExporter := tool(t, "prometheus-node-exporter", "prometheus-node-exporter")
	dir := t.TempDir()
	nodeAddr, promAddr := freeAddr(t), freeAddr(t)

	in := fixedInput(t)
	in.Now = time.Now()
	in.Desired.Generate.NodeExporter = nodeAddr
	metrics, err := Metrics(in)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := AlertRules(in)
	if err != nil {
		t.Fatal(err)
	}
	scrape, err := ScrapeConfig(in)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "textfile", "drsync.prom"), metrics)
	writeFile(t, filepath.Join(dir, "rules.yml"), rules)
	writeFile(t, filepath.Join(dir, "prometheus.yml"), append([]byte(
		"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - rules.yml\n"), scrape...))

	start(t, nodeExporter, "--web.listen-address="+nodeAddr, "--collector.disable-defaults",
		"--collector.textfile", "--collector.textfile.directory="+filepath.Join(dir, "textfile"))
	start(t, prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr)

	want := map[string]string{"RestoreTestFailed": "subvol3-opptak", "RestoreTestOverdue": "subvol7-containers"}
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		alerts, err := activeAlerts("http://" + promAddr + "/api/v1/alerts")
		if err == nil {
			found := 0
			for name, sub := range want {
				if state := alerts[name+"/"+sub]; state == "pending" || state == "firing" {
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
	t.Fatalf("alerts %v not pending or firing within 60s; last answer: %s", want, last)
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs a server for the rest of the test, killing it at cleanup and
// showing its output if the test failed.
func start(t *testing.T, name string, args ...string) {
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
			t.Logf("%s output:\n%s", filepath.Base(name), lastLines(out.String(), 30))
		}
	})
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
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
