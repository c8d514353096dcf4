package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/fleet"
	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/render"
	"github.com/drsync/drsync/render/alerts"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

// TestFleetStatusFromPrometheus: two hosts of examples/desired/fleet write
// their metrics (each labelled with its host) into one node_exporter, a
// real Prometheus scrapes it with the generated rules, and `drsync fleet
// status` reads both hosts back: htpc within its RPO, nas's documents past
// it with a failed restore test whose alert fires, naming host nas. It
// exits 2 because a host breaks its RPO.
func TestFleetStatusFromPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus and node_exporter")
	}
	stack := promtest.NewStack(t)
	hosts, err := schema.LoadFleet("../../examples/desired/fleet", nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	passed := func(at time.Duration, ok bool) *view.TestEvidence {
		return &view.TestEvidence{Time: ago(at), Passed: ok, Files: 50}
	}
	evidence := map[string]map[string]view.SubvolumeStatus{
		"htpc": {"home": {NewestLocal: ago(time.Hour), NewestExternal: ago(2 * time.Hour), LastSuccess: ago(time.Hour),
			Verified: ago(2 * time.Hour), Test: passed(time.Hour, true), TestsRun: 1, TestsPassed: 1}},
		"nas": {
			"documents": {NewestLocal: ago(time.Hour), NewestExternal: ago(3 * 24 * time.Hour), LastSuccess: ago(time.Hour),
				Verified: ago(3 * 24 * time.Hour), Test: passed(time.Hour, false), TestsRun: 2, TestsPassed: 1},
			"photos": {NewestLocal: ago(time.Hour), NewestExternal: ago(24 * time.Hour), LastSuccess: ago(time.Hour),
				Verified: ago(24 * time.Hour), Test: passed(time.Hour, true), TestsRun: 1, TestsPassed: 1},
		},
	}
	dir := t.TempDir()
	for _, h := range []string{"htpc", "nas"} {
		m, err := render.Metrics(view.Input{Desired: hosts[h], Now: now, Subvolumes: evidence[h]})
		if err != nil {
			t.Fatal(err)
		}
		writeTestFile(t, filepath.Join(dir, "textfile", h+".prom"), m)
	}
	d := *hosts["htpc"]
	rules, err := alerts.Rules(view.Input{Desired: &d, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(dir, "rules.yml"), rules)
	d.Generate.NodeExporter = stack.NodeAddr
	scrape, err := render.ScrapeConfig(view.Input{Desired: &d, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	stack.Start(t, filepath.Join(dir, "textfile"), promtest.ShortFor(t, filepath.Join(dir, "rules.yml")), scrape)

	prom := "http://" + stack.PromAddr
	var report fleet.Report
	var code int
	var out string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		var stdout, stderr bytes.Buffer
		code = run([]string{"fleet", "status", "--prometheus", prom, "--json"}, strings.NewReader(""), &stdout, &stderr)
		out = stdout.String() + stderr.String()
		report = fleet.Report{}
		if json.Unmarshal(stdout.Bytes(), &report) == nil && len(report.Hosts) == 2 && firing(report.Hosts[1], "RestoreTestFailed", "documents") {
			break
		}
	}
	if len(report.Hosts) != 2 || report.Hosts[0].Name != "htpc" || report.Hosts[1].Name != "nas" {
		t.Fatalf("hosts: want htpc and nas:\n%s", out)
	}
	if code != exitChanges {
		t.Errorf("exit %d with a host past its RPO, want %d", code, exitChanges)
	}
	htpc, nas := report.Hosts[0], report.Hosts[1]
	if htpc.RPOBroken || len(htpc.Subvolumes) != 1 || htpc.Subvolumes[0].TestPassed == nil || !*htpc.Subvolumes[0].TestPassed {
		t.Errorf("htpc: %+v", htpc)
	}
	if !nas.RPOBroken || len(nas.Subvolumes) != 2 || !nas.Subvolumes[0].RPOBroken || nas.Subvolumes[1].RPOBroken {
		t.Errorf("nas: documents should break the RPO, photos not: %+v", nas)
	}
	if !firing(nas, "RestoreTestFailed", "documents") || firing(htpc, "RestoreTestFailed", "home") {
		t.Errorf("RestoreTestFailed must fire for nas/documents only: htpc %+v, nas %+v", htpc.Alerts, nas.Alerts)
	}
	// Both backed up an hour ago: the scraped series carry instance and
	// job, which BackupFailed must match across.
	if firing(htpc, "BackupFailed", "home") || firing(nas, "BackupFailed", "documents") {
		t.Errorf("BackupFailed fires for subvolumes backed up an hour ago: htpc %+v, nas %+v", htpc.Alerts, nas.Alerts)
	}

	var stdout bytes.Buffer
	code = run([]string{"fleet", "status", "--prometheus", prom}, strings.NewReader(""), &stdout, &stdout)
	text := stdout.String()
	for _, want := range []string{"2 hosts", "host htpc  RPO met", "host nas  RPO BROKEN: documents",
		"firing: RestoreTestFailed (critical) documents", "home"} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q:\n%s", want, text)
		}
	}
	if code != exitChanges {
		t.Errorf("text: exit %d, want %d", code, exitChanges)
	}
}

func firing(h fleet.Host, alert, subvolume string) bool {
	for _, a := range h.Alerts {
		if a.Name == alert && a.Subvolume == subvolume {
			return true
		}
	}
	return false
}
