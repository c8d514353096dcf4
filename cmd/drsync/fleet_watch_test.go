package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/fleet"
	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/render/alerts"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

// fleetDrive is each host's plain-directory "drive" (its marker holds it).
const fleetDrive = "3e9d1c2b-4a5f-4e6d-8c7b-9a0f1e2d3c4b"

// The fleet under test: hosts a and b share a tier and a location layout
// (a pool and a drive), and both name their subvolume docs.
const fleetShared = `package drsync

root: *"" | string @tag(root)

_shared: {
	stateDir: "\(root)/state"
	restore: scratch: "\(root)/scratch"
	generate: enabled: {alertRules: false, scrapeConfig: false, dashboard: false, systemd: false, runbooks: false}
	locations: {
		pool: path: "\(root)/pool/.snapshots"
		usb: {external: true, path: "\(root)/usb/.snapshots", mount: "\(root)/usb", uuid: "` + fleetDrive + `"}
	}
	tiers: "1": {rpo: "7d", rto: "1h", restoreTest: every: "1000d"}
}
`

const fleetHost = `package drsync

hosts: %s: _shared & {subvolumes: {
	docs: {tier: "1", source: "\(root)/pool/docs", snapshots: {location: "pool", schedule: "daily 02:00", retention: daily: 7}
		external: {location: "usb", schedule: "daily 03:00", retention: daily: 3}}
%s}}
`

// pushFleet commits the fleet directory with host b's extra subvolumes.
func pushFleet(r *watchRig, bExtra, msg string) string {
	dir := filepath.Join(r.wc, "fleet")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "shared.cue"), []byte(fleetShared), 0o644)
	os.WriteFile(filepath.Join(dir, "a.cue"), fmt.Appendf(nil, fleetHost, "a", ""), 0o644)
	os.WriteFile(filepath.Join(dir, "b.cue"), fmt.Appendf(nil, fleetHost, "b", bExtra), 0o644)
	r.git(r.wc, "add", "fleet")
	r.git(r.wc, "commit", "-m", msg)
	r.git(r.wc, "push", "origin", "HEAD:main")
	return r.git(r.wc, "rev-parse", "HEAD")
}

func actionsDone(t *testing.T, state string) int {
	t.Helper()
	j, err := journal.OpenJournal(state)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range mustEntries(t, j) {
		if e.Action != nil && e.Phase == model.PhaseDone {
			n++
		}
	}
	return n
}

// TestFleetTwoHostsFollowOneRepository: two plain-directory "hosts" run
// the real `drsync watch`, each with --host, following one bare git
// repository that declares both; one real Prometheus scrapes both
// watches' /metrics. A push that changes host b only makes b act and a do
// nothing; a damaged replica on b, found by `drsync test --host b`, raises
// RestoreTestFailed naming host b (not a, whose subvolume has the same
// name); `drsync fleet status` shows both hosts and b's failure.
func TestFleetTwoHostsFollowOneRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("builds drsync, runs two watches and Prometheus")
	}
	stack := promtest.NewStack(t)
	a := newWatchRig(t)
	b := &watchRig{t: t, dir: t.TempDir(), bare: a.bare, wc: a.wc, secret: a.secret, listen: promtest.FreeAddr(t)}
	b.root = filepath.Join(b.dir, "root")
	os.WriteFile(filepath.Join(b.dir, "secret"), []byte(b.secret+"\n"), 0o600)
	for _, d := range []string{"pool/docs/notes", "pool/media", "pool/.snapshots", "usb/.snapshots"} {
		os.MkdirAll(filepath.Join(b.root, d), 0o755)
	}
	for _, root := range []string{a.root, b.root} {
		os.MkdirAll(filepath.Join(root, "usb/.snapshots"), 0o755)
		os.WriteFile(filepath.Join(root, "usb/.drsync-drive"), []byte(fleetDrive+"\n"), 0o644)
	}
	os.WriteFile(filepath.Join(b.root, "pool/docs/notes/b.txt"), []byte("b"), 0o644)
	os.WriteFile(filepath.Join(b.root, "pool/media/m.raw"), []byte("m"), 0o644)
	bin := buildDrsync(t)

	first := pushFleet(a, "", "two hosts")
	// A long interval: reconciles come from the start and the webhook only,
	// so the test's own drsync test never meets a watch's lock.
	a.start(bin, "1h", "--path", "fleet", "--host", "a")
	b.start(bin, "1h", "--path", "fleet", "--host", "b")
	for _, r := range []*watchRig{a, b} {
		r.await("first commit applied", 30*time.Second, func(s watchStatus) bool { return s.LastApplied == first && !s.Reconciling })
	}
	aBefore, bBefore := actionsDone(t, filepath.Join(a.root, "state")), actionsDone(t, filepath.Join(b.root, "state"))
	if aBefore == 0 || bBefore == 0 {
		t.Fatalf("first reconcile did nothing: a %d, b %d actions", aBefore, bBefore)
	}

	// Host b gains a subvolume; host a's part is unchanged.
	second := pushFleet(a, `	media: {tier: "1", source: "\(root)/pool/media", snapshots: {location: "pool", schedule: "daily 02:00", retention: daily: 7}}
`, "b: add media")
	for _, r := range []*watchRig{a, b} {
		r.hook(`{"ref":"refs/heads/main"}`, r.secret)
		r.await("second commit reconciled", 30*time.Second, func(s watchStatus) bool { return s.LastAttempted == second && !s.Reconciling })
	}
	if got := snapshotsIn(t, filepath.Join(b.root, "pool/.snapshots/media")); len(got) != 1 {
		t.Errorf("host b's media snapshots after its commit: %v", got)
	}
	if n := actionsDone(t, filepath.Join(a.root, "state")); n != aBefore {
		t.Errorf("host a acted on a commit that changed only host b: %d actions, was %d", n, aBefore)
	}
	if n := actionsDone(t, filepath.Join(b.root, "state")); n <= bBefore {
		t.Errorf("host b did not act on its commit: %d actions, was %d", n, bBefore)
	}
	if _, err := os.Stat(filepath.Join(a.root, "pool/.snapshots/media")); err == nil {
		t.Errorf("host a has media snapshots: b's part reached a")
	}

	// Damage host b's docs replica; its restore test finds it.
	snaps := snapshotsIn(t, filepath.Join(b.root, "usb/.snapshots/docs"))
	if len(snaps) != 1 {
		t.Fatalf("host b docs replicas: %v", snaps)
	}
	damaged := filepath.Join(b.root, "usb/.snapshots/docs", snaps[0], "notes/b.txt")
	os.Chmod(filepath.Dir(damaged), 0o755)
	if err := os.WriteFile(damaged, []byte("rot"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run([]string{"test", "--subvolume", "docs", "-f", filepath.Join(a.wc, "fleet"), "--host", "b", "-t", "root=" + b.root, "--storage", "dir"},
		strings.NewReader(""), &out, &out); code != 1 {
		t.Fatalf("test of host b's damaged snapshot: exit %d\n%s", code, out.String())
	}

	// One Prometheus scrapes both watches, with the generated rules.
	d, err := schema.LoadHost(filepath.Join(a.wc, "fleet"), []string{"root=" + b.root}, "b")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := alerts.Rules(view.Input{Desired: d, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "rules.yml"), rules)
	scrape := fmt.Appendf(nil, "scrape_configs:\n  - job_name: drsync-watch\n    static_configs:\n      - targets: [%q, %q]\n", a.listen, b.listen)
	os.MkdirAll(filepath.Join(dir, "textfile"), 0o755)
	stack.Start(t, filepath.Join(dir, "textfile"), promtest.ShortFor(t, filepath.Join(dir, "rules.yml")), scrape)

	prom := "http://" + stack.PromAddr
	var report fleet.Report
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		var stdout, stderr bytes.Buffer
		run([]string{"fleet", "status", "--prometheus", prom, "--json"}, strings.NewReader(""), &stdout, &stderr)
		report = fleet.Report{}
		if json.Unmarshal(stdout.Bytes(), &report) == nil && len(report.Hosts) == 2 && firing(report.Hosts[1], "RestoreTestFailed", "docs") {
			break
		}
	}
	if len(report.Hosts) != 2 || report.Hosts[0].Name != "a" || report.Hosts[1].Name != "b" {
		t.Fatalf("fleet status hosts: %+v", report.Hosts)
	}
	if !firing(report.Hosts[1], "RestoreTestFailed", "docs") || firing(report.Hosts[0], "RestoreTestFailed", "docs") {
		t.Errorf("RestoreTestFailed must fire for host b's docs only: a %+v, b %+v", report.Hosts[0].Alerts, report.Hosts[1].Alerts)
	}
	bDocs := report.Hosts[1].Subvolumes[0]
	if bDocs.Name != "docs" || bDocs.TestPassed == nil || *bDocs.TestPassed || len(report.Hosts[1].Subvolumes) != 2 || len(report.Hosts[0].Subvolumes) != 1 {
		t.Errorf("fleet status: a %+v, b %+v", report.Hosts[0].Subvolumes, report.Hosts[1].Subvolumes)
	}
}
