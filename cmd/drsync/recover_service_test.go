package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// serviceCUE declares three services stopped and started by commands, as a
// sandbox or a container host does: a real Prometheus (started by a script
// in the background), a SQLite database and configuration files whose start
// command fails the first time it runs.
const serviceCUE = `package drsync

root: *"" | string @tag(root)
_addr: *"" | string @tag(addr)

stateDir: "\(root)/state"
restore: scratch: "\(root)/scratch"
generate: enabled: {metrics: false, alertRules: false, scrapeConfig: false, dashboard: false, systemd: false, runbooks: false}
locations: backups: path: "\(root)/backups"
tiers: "1": {rpo: "1d", rto: "1h", restoreTest: every: "1000d"}
_svc: {tier: "1", location: "backups", schedule: "daily 01:00", retention: daily: 7}
services: {
	tsdb: _svc & {kind: "prometheus", url: "http://\(_addr)", dataDir: "\(root)/data/prometheus",
		stop: ["/bin/sh", "\(root)/bin/prom-stop.sh", root], start: ["/bin/sh", "\(root)/bin/prom-start.sh", root, _addr]}
	db: _svc & {kind: "sqlite", database: "\(root)/data/grafana/grafana.db",
		stop: ["/bin/sh", "-c", "echo stop >> \(root)/db.log"], start: ["/bin/sh", "-c", "echo start >> \(root)/db.log"]}
	conf: _svc & {kind: "files", paths: ["\(root)/etc/app"], after: ["db"],
		stop: ["/bin/true"], start: ["/bin/sh", "\(root)/bin/flaky-start.sh", root]}
}
`

const promStart = `#!/bin/sh
# Starts Prometheus in the background over $1/data/prometheus, listening on $2.
cat > "$1/prometheus.yml" <<EOF
global: {scrape_interval: 1s}
scrape_configs: [{job_name: self, static_configs: [{targets: ['$2']}]}]
EOF
setsid prometheus --config.file="$1/prometheus.yml" --storage.tsdb.path="$1/data/prometheus" \
	--web.listen-address="$2" --web.enable-admin-api >>"$1/prometheus.log" 2>&1 </dev/null &
echo $! > "$1/prometheus.pid"
`

const promStop = `#!/bin/sh
# Stops the Prometheus prom-start.sh started and waits until it is gone
# (a zombie nobody reaps counts as gone).
pid=$(cat "$1/prometheus.pid" 2>/dev/null) || exit 0
kill "$pid" 2>/dev/null || exit 0
while [ -d "/proc/$pid" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; do sleep 0.1; done
`

const flakyStart = `#!/bin/sh
# Fails the first time it runs, then succeeds: a recovery's start fails, and
# the rollback's restart works.
echo run >> "$1/flaky.log"
[ "$(wc -l < "$1/flaky.log")" -gt 1 ]
`

// TestRecoverServices is issue 8's service recovery for real: a deleted
// TSDB comes back and a real Prometheus answers for the restored range; a
// corrupted live SQLite database comes back and passes its integrity check;
// a service whose start fails is rolled back to the data kept aside.
func TestRecoverServices(t *testing.T) {
	promtest.Tool(t, "prometheus", "prometheus")
	promtest.Tool(t, "promtool", "prometheus")
	promtest.Tool(t, "sqlite3", "sqlite3")
	root := filepath.Join(t.TempDir(), "root")
	addr := promtest.FreeAddr(t)
	file := filepath.Join(root, "desired.cue")
	db := filepath.Join(root, "data", "grafana", "grafana.db")
	conf := filepath.Join(root, "etc", "app", "config.yaml")
	for path, data := range map[string]string{
		file: serviceCUE, conf: "listen: 1\n",
		filepath.Join(root, "bin", "prom-start.sh"):  promStart,
		filepath.Join(root, "bin", "prom-stop.sh"):   promStop,
		filepath.Join(root, "bin", "flaky-start.sh"): flakyStart,
	} {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Dir(db), 0o755)
	sqlite := func(sql string) string {
		t.Helper()
		out, err := exec.Command("sqlite3", "-bail", db, sql).CombinedOutput()
		if err != nil {
			t.Fatalf("sqlite3 %q: %v: %s", sql, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	sqlite("CREATE TABLE dashboard(id INTEGER PRIMARY KEY, title TEXT); CREATE TABLE users(id INTEGER);" +
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 3000) INSERT INTO dashboard(title) SELECT printf('%0200d', i) FROM n;")

	script := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command("/bin/sh", append([]string{filepath.Join(root, "bin", name)}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", name, err, out)
		}
	}
	script("prom-start.sh", root, addr)
	t.Cleanup(func() {
		exec.Command("/bin/sh", filepath.Join(root, "bin", "prom-stop.sh"), root).Run()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(root, "prometheus.log"))
			t.Logf("prometheus log (tail):\n%s", tail(string(log), 20))
		}
	})
	base := "http://" + addr
	var sampled time.Time
	waitUntil(t, time.Minute, "Prometheus holds three scrapes", func() bool {
		sampled = time.Now()
		n, _ := promCount(base, "count_over_time(up[1m])", sampled)
		return n >= 3
	})

	args := []string{"-f", file, "-t", "root=" + root, "-t", "addr=" + addr, "--storage", "dir"}
	drsync := func(wantCode int, a ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(append(a, args...), strings.NewReader(""), &out, &errOut); code != wantCode {
			t.Fatalf("drsync %s: exit %d, want %d\n%s%s", strings.Join(a, " "), code, wantCode, out.String(), errOut.String())
		}
		return out.String() + errOut.String()
	}
	drsync(0, "apply", "--auto-approve")
	if out := drsync(0, "test"); strings.Count(out, "PASS") != 3 {
		t.Fatalf("restore tests of the three archives:\n%s", out)
	}

	// The disasters: the TSDB deleted, the database corrupted, the
	// configuration changed since the backup.
	script("prom-stop.sh", root)
	if err := os.RemoveAll(filepath.Join(root, "data", "prometheus")); err != nil {
		t.Fatal(err)
	}
	corruptPage(t, db, sqlite)
	if out, _ := exec.Command("sqlite3", db, "PRAGMA integrity_check").CombinedOutput(); strings.TrimSpace(string(out)) == "ok" {
		t.Fatal("the database still passes its integrity check after it was damaged")
	}
	os.WriteFile(conf, []byte("listen: 2 # changed after the backup\n"), 0o644)

	out := drsync(0, "recover", "tsdb", "db", "--auto-approve")
	t.Log(out)
	for _, want := range []string{"✓ recovered tsdb", "✓ recovered db", "db before: the current database fails",
		"returns", "series at", "integrity_check ok; 2 table(s) present"} {
		if !strings.Contains(out, want) {
			t.Errorf("recover output lacks %q:\n%s", want, out)
		}
	}
	// The real Prometheus, started again by the declared command, answers
	// for a time before it was restarted: only the restored TSDB holds it.
	if n, err := promCount(base, "count_over_time(up[1m])", sampled); err != nil || n < 1 {
		t.Errorf("samples of up at %s after the recovery: %v, %v; want the restored ones", sampled.Format(time.RFC3339), n, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(root, "data", "prometheus"), &st); err != nil || st.Uid != 65534 || st.Gid != 65534 {
		t.Errorf("the restored TSDB is owned by %d:%d (%v), want the declared 65534:65534", st.Uid, st.Gid, err)
	}
	if got := sqlite("PRAGMA integrity_check; SELECT count(*) FROM dashboard;"); got != "ok\n3000" {
		t.Errorf("the recovered database: %q, want ok and 3000 rows", got)
	}
	if log, _ := os.ReadFile(filepath.Join(root, "db.log")); string(log) != "stop\nstart\n" {
		t.Errorf("db's stop and start commands ran as %q, want stop then start", log)
	}
	out = drsync(0, "recover", "--verify-only", "tsdb", "db")
	for _, want := range []string{"tsdb  PASS", "db  PASS", "returns", "series at tsdb.", "integrity_check ok; 2 table(s): dashboard, users"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify-only lacks %q:\n%s", want, out)
		}
	}
	aside, _ := filepath.Glob(db + ".pre-recover-*")
	if len(aside) != 1 {
		t.Errorf("the damaged database is not kept aside: %v", aside)
	}

	// conf's start fails: the kept-aside (changed) configuration goes back,
	// the service is started again on it, and recover fails loudly.
	out = drsync(1, "recover", "conf", "--auto-approve", "--json")
	var rep struct {
		Plan struct {
			Services []struct {
				Service string `json:"service"`
				Targets []struct {
					KeepAside string `json:"keepAside"`
				} `json:"targets"`
			} `json:"services"`
		} `json:"plan"`
		Services []struct {
			RolledBack   bool     `json:"rolledBack"`
			FailedCopies []string `json:"failedCopies"`
			Error        string   `json:"error"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("recover conf --json: %v\n%s", err, out)
	}
	if len(rep.Services) != 1 || !rep.Services[0].RolledBack || !strings.Contains(rep.Services[0].Error, "rolled back: the previous data is in place again") ||
		len(rep.Plan.Services) != 1 || !strings.Contains(rep.Plan.Services[0].Targets[0].KeepAside, "app.pre-recover-") {
		t.Errorf("recover conf --json:\n%s", out)
	}
	if b, _ := os.ReadFile(conf); string(b) != "listen: 2 # changed after the backup\n" {
		t.Errorf("after the rollback config.yaml is %q, want the data kept aside", b)
	}
	failed, _ := filepath.Glob(filepath.Join(root, "etc", "app.failed-recover-*", "config.yaml"))
	if len(failed) != 1 {
		t.Fatalf("the restored copy that failed is not kept for inspection: %v", failed)
	}
	if b, _ := os.ReadFile(failed[0]); string(b) != "listen: 1\n" {
		t.Errorf("the failed copy holds %q, want the archived configuration", b)
	}
	if log, _ := os.ReadFile(filepath.Join(root, "flaky.log")); strings.Count(string(log), "run") != 2 {
		t.Errorf("conf's start ran %q, want twice (the recovery, then the rollback's restart)", log)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(root, "*", "*", ".drsync-restore-*")); len(leftovers) > 0 {
		t.Errorf("staging directories left behind: %v", leftovers)
	}
	assertJournaled(t, file, []string{"root=" + root, "addr=" + addr}, "conf", []string{"restore", "stop", "keep-aside", "place", "start", "rollback"})
}

// corruptPage overwrites the middle of a table page a quarter into db.
func corruptPage(t *testing.T, db string, sqlite func(string) string) {
	t.Helper()
	pageSize, _ := strconv.Atoi(sqlite("PRAGMA page_size"))
	pages, _ := strconv.Atoi(sqlite("PRAGMA page_count"))
	f, err := os.OpenFile(db, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xff}, 512), int64((pages/4)*pageSize+pageSize/4)); err != nil {
		t.Fatal(err)
	}
}

// assertJournaled checks the service's recovery steps were journaled in
// order, each finished (done or failed).
func assertJournaled(t *testing.T, file string, tags []string, service string, want []string) {
	t.Helper()
	d, err := schema.Load(file, tags)
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.OpenJournal(d.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := j.Entries()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if a := e.Action; a != nil && a.Recover != nil && a.Subvolume == service && e.Phase != model.PhaseStart {
			got = append(got, a.Recover.Step)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("journaled steps of %s: %v, want %v", service, got, want)
	}
}

// promCount runs an instant query at t and returns its first value (0
// when the result is empty).
func promCount(base, query string, at time.Time) (float64, error) {
	q := url.Values{"query": {query}, "time": {strconv.FormatInt(at.Unix(), 10)}}
	resp, err := http.Get(base + "/api/v1/query?" + q.Encode())
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, err
	}
	if len(body.Data.Result) == 0 {
		return 0, nil
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}

func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within %s", what, limit)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
