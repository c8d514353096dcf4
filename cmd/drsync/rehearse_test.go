package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/providers/s3"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/rehearse/evidence"
	"github.com/drsync/drsync/reports"
	"github.com/drsync/drsync/sandbox"
)

var homelab = filepath.Join("..", "..", "examples", "desired", "homelab.cue")

// TestRehearseHomelab rehearses DR-001 to DR-003 on the homelab example on
// real loop-mounted btrfs: sandbox up, apply, the disaster, the runbook's
// drsync commands, the data compared, sandbox down (DR-004, from the
// off-site copies alone: TestRehearseDR004). Each outcome is
// journaled in the state directory of the desired state as given (its
// root tag), not in the sandbox's.
func TestRehearseHomelab(t *testing.T) {
	if err := sandbox.Available(); err != nil {
		t.Skip(err)
	}
	user := t.TempDir()
	cases := []struct {
		runbook string
		pass    bool
		want    []string
	}{
		{"DR-001", true, []string{"✓ recovered htpc-home from ", "✓ recovered htpc-root from ", "htpc-home  PASS",
			"2 subvolumes (htpc-home, htpc-root) recovered", "next sends incremental for htpc-home",
			"htpc-root recovered --to a new root",
			// The services live in /home: their archives on the drive are
			// restored into staging and brought up.
			"✓ prometheus-tsdb: prometheus-tsdb.", "serve: prometheus ready after", "tables: memories (2000 rows)",
			"6 services (app-chroma, app-config, app-db, grafana-db, monitoring-config, prometheus-tsdb) restored from their archives into staging and ready"}},
		{"DR-002", true, []string{"✓ recovered subvol1-docs from ", "subvol7-containers  PASS",
			"4 subvolumes (subvol1-docs, subvol2-pics, subvol3-opptak, subvol7-containers) recovered"}},
		{"DR-003", true, []string{"is deleted", "$ drsync find ", "restored ", "its content equal to the deleted file's"}},
	}
	for _, c := range cases {
		t.Run(c.runbook, func(t *testing.T) {
			out, code := rehearseRun(t, c.runbook, "-f", homelab, "-t", "root="+user)
			if (code == exitOK) != c.pass {
				t.Fatalf("exit %d, want pass=%v:\n%s", code, c.pass, out)
			}
			verdict := map[bool]string{true: "PASS", false: "FAIL"}[c.pass]
			for _, w := range append(c.want, "Rehearsal "+c.runbook+": "+verdict) {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	got, _, err := evidence.Load(filepath.Join(user, "var", "lib", "drsync"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		r := got[c.runbook]
		if r.Last.Passed != c.pass || r.Last.Seconds <= 0 || (c.pass && r.Last.Bytes <= 0) || (r.LastSuccess != nil) != c.pass {
			t.Errorf("%s journaled as %+v", c.runbook, r)
		}
		rep, _, ok, err := reports.Latest(filepath.Join(user, "var", "lib", "drsync"), c.runbook)
		if err != nil || !ok || rep.Kind != reports.Rehearse || (rep.Items[0].Result == model.ResultPass) != c.pass {
			t.Errorf("%s: report %+v (found %v, %v)", c.runbook, rep, ok, err)
		}
	}
	// DR-001 takes the services: each is journaled and reported under it.
	if n := len(got["DR-001"].Last.Services); n != 6 {
		t.Errorf("DR-001 journaled %d service checks, want 6: %+v", n, got["DR-001"].Last.Services)
	}
	checkServiceItems(t, user, "DR-001")
}

// checkServiceItems finds each of the example's services passed in the
// runbook's newest report, named under the runbook.
func checkServiceItems(t *testing.T, user, runbook string) {
	t.Helper()
	rep, _, ok, err := reports.Latest(filepath.Join(user, "var", "lib", "drsync"), runbook)
	if err != nil || !ok {
		t.Fatalf("%s: no report (%v)", runbook, err)
	}
	for _, name := range []string{"app-chroma", "app-config", "app-db", "grafana-db", "monitoring-config", "prometheus-tsdb"} {
		i := slices.IndexFunc(rep.Items, func(it reports.Item) bool { return it.Name == runbook+"/"+name })
		if i < 0 || rep.Items[i].Result != model.ResultPass || rep.Items[i].Copy == "" {
			t.Errorf("%s: the report's item for %s: %+v", runbook, name, rep.Items)
		}
	}
}

// The same on plain directories, and a runbook that does not exist.
func TestRehearsePlain(t *testing.T) {
	small := filepath.Join("..", "..", "testdata", "desired", "small.cue")
	user := t.TempDir()
	out, code := rehearseRun(t, "DR-002", "-f", small, "-t", "root="+user, "--storage", "dir")
	if code != exitOK || !strings.Contains(out, "✓ recovered docs") || !strings.Contains(out, "✓ recovered media") ||
		!strings.Contains(out, "Rehearsal DR-002: PASS") {
		t.Errorf("rehearse DR-002: exit %d\n%s", code, out)
	}
	out, code = rehearseRun(t, "DR-003", "-f", small, "-t", "root="+user, "--storage", "dir")
	if code != exitOK || !strings.Contains(out, "Rehearsal DR-003: PASS") {
		t.Errorf("rehearse DR-003: exit %d\n%s", code, out)
	}
	// The evidence reaches the user's own runbooks and metrics, from the
	// user's state directory.
	out = generated(t, "-f", small, "-t", "root="+user, "--storage", "dir")
	today := time.Now().Format("2006-01-02")
	for _, want := range []string{
		`DR-002-btrfs-pool-corruption\.md: \*\*Last Rehearsed:\*\* ` + today + `, \d+ min for \d`,
		`DR-003-accidental-deletion\.md: \*\*Last Rehearsed:\*\* ` + today + `, \d+ min for \d`,
		`DR-001-system-ssd-failure\.md: \*\*Last Rehearsed:\*\* \*\*never rehearsed\*\*`,
		`drsync\.prom: backup_rehearsal_success\{runbook="DR-002"\} 1`,
		`drsync\.prom: backup_rehearsal_success\{runbook="DR-003"\} 1`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("generated files lack %s:\n%s", want, out)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"rehearse", "DR-009", "-f", small}, nil, &stdout, &stderr); code != exitError ||
		!strings.Contains(stderr.String(), "rehearse DR-009: no such runbook (runbooks: DR-001, DR-002, DR-003, DR-004)") {
		t.Errorf("rehearse DR-009: exit %d, %s", code, stderr.String())
	}
}

// generated runs drsync generate and returns the lines of the runbooks
// and metrics it wrote, each prefixed with its file's name.
func generated(t *testing.T, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"generate", "--out", dir}, args...), nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("generate: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	var out strings.Builder
	filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && (strings.HasSuffix(path, ".md") || strings.HasSuffix(path, ".prom")) {
			b, _ := os.ReadFile(path)
			for _, line := range strings.Split(string(b), "\n") {
				fmt.Fprintf(&out, "%s: %s\n", filepath.Base(path), line)
			}
		}
		return err
	})
	return out.String()
}

func rehearseRun(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"rehearse", "--dir", t.TempDir()}, args...), nil, &stdout, &stderr)
	return stdout.String() + stderr.String(), code
}

// TestRehearseDR004 rehearses a total loss on the homelab example: its
// subvolumes go to a real versitygw the sandbox starts, the machine's disks
// and the drive are lost, and the runbook's commands recover every
// subvolume from the S3 copies alone; the next off-site sends continue the
// chains incrementally.
func TestRehearseDR004(t *testing.T) {
	if err := sandbox.Available(); err != nil {
		t.Skip(err)
	}
	if _, err := s3.Versitygw(); err != nil {
		t.Skip(err)
	}
	user := t.TempDir()
	out, code := rehearseRun(t, "DR-004", "-f", homelab, "-t", "root="+user)
	if code != exitOK {
		t.Errorf("exit %d", code)
	}
	for _, name := range []string{"htpc-home", "htpc-root", "subvol1-docs", "subvol2-pics", "subvol3-opptak", "subvol7-containers"} {
		if !strings.Contains(out, "✓ recovered "+name+" from ") {
			t.Errorf("%s was not recovered:\n%s", name, out)
		}
	}
	for _, name := range []string{"htpc-home", "subvol1-docs", "subvol2-pics", "subvol3-opptak", "subvol7-containers"} {
		if !strings.Contains(out, "✓ "+name+" → s3-secondary incremental from "+name+".") {
			t.Errorf("the next off-site send of %s is not incremental:\n%s", name, out)
		}
	}
	if !strings.Contains(out, "✓ recovered grafana-db from ") || !strings.Contains(out, "(fetched from s3-secondary)") {
		t.Errorf("grafana-db was not recovered from its fetched archive:\n%s", out)
	}
	if !strings.Contains(out, "Rehearsal DR-004: PASS") {
		t.Errorf("rehearsal:\n%s", out)
	}
	if !regexp.MustCompile(`✓ prometheus-tsdb: prometheus-tsdb\.\S+ from s3-secondary: .*serve: prometheus ready`).MatchString(out) {
		t.Errorf("prometheus-tsdb's fetched archive was not brought up in staging:\n%s", out)
	}
	got, _, err := evidence.Load(filepath.Join(user, "var", "lib", "drsync"))
	if err != nil {
		t.Fatal(err)
	}
	if r := got["DR-004"]; !r.Last.Passed || r.LastSuccess == nil || r.Last.Seconds <= 0 {
		t.Errorf("DR-004 journaled as %+v", r)
	}
	rep, _, ok, err := reports.Latest(filepath.Join(user, "var", "lib", "drsync"), "DR-004")
	if err != nil || !ok || rep.Kind != reports.Rehearse || rep.Items[0].Result != model.ResultPass {
		t.Errorf("DR-004: report %+v (found %v, %v)", rep, ok, err)
	}
	checkServiceItems(t, user, "DR-004")
}
