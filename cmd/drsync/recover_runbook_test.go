package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/render/runbook"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

const runbookCUE = `package drsync

root: *"" | string @tag(root)

stateDir: "\(root)/state"
restore: scratch: "\(root)/scratch"
generate: enabled: {metrics: false, alertRules: false, scrapeConfig: false, dashboard: false, systemd: false, runbooks: false}
generate: desiredFile: "\(root)/my config/desired.cue"
locations: {
	pool: path: "\(root)/pool/.snapshots"
	usb: {external: true, mount: "\(root)/usb", path: "\(root)/usb/.snapshots", uuid: "0d2c7a3e-1b4f-4e6a-9c8d-7f6e5d4c3b2a"}
}
tiers: "1": {rpo: "7d", rto: "1h", restoreTest: every: "1d"}
subvolumes: docs: {
	tier:   "1"
	source: "\(root)/pool/docs"
	snapshots: {location: "pool", schedule: "daily 02:00", retention: daily: 7}
	external: {location: "usb", schedule: "daily 03:00", retention: daily: 7}
}
`

// TestRunbookRecoverCommandsRun is DR-002 for real on a plain-directory
// sandbox: the pool is lost (sources and local snapshots), and the drsync
// commands the runbook prints for it (its desired-state path has a space,
// so quoting matters) recover and verify the data. Only the sandbox's
// flags are added: its root tag, the storage, and --auto-approve.
func TestRunbookRecoverCommandsRun(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	file := filepath.Join(root, "my config", "desired.cue")
	src := filepath.Join(root, "pool", "docs")
	for path, data := range map[string]string{
		file: runbookCUE,
		filepath.Join(root, "usb", ".drsync-drive"): "0d2c7a3e-1b4f-4e6a-9c8d-7f6e5d4c3b2a\n",
		filepath.Join(src, "notes", "report.txt"):   "first version\n",
	} {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sandbox := []string{"-t", "root=" + root, "--storage", "dir"}
	drsync := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(append(args, sandbox...), strings.NewReader(""), &out, &errOut); code != 0 {
			t.Fatalf("drsync %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		}
		return out.String()
	}
	drsync("apply", "--auto-approve", "--now", "2026-11-20T03:30", "-f", file)

	d, err := schema.Load(file, []string{"root=" + root})
	if err != nil {
		t.Fatal(err)
	}
	books, err := runbook.Render(view.Input{Desired: d, Now: time.Date(2026, 11, 20, 4, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var recovers [][]string
	for name, md := range books {
		if !strings.HasPrefix(name, "DR-002") && !strings.HasPrefix(filepath.Base(name), "DR-002") {
			continue
		}
		for _, cmd := range runbook.Commands(md) {
			if len(cmd) > 1 && cmd[1] == "recover" {
				recovers = append(recovers, cmd[1:])
			}
		}
	}
	if len(recovers) != 2 || !slices.Contains(recovers[0], file) {
		t.Fatalf("DR-002's recover commands: %q", recovers)
	}

	// The disaster: the pool is reformatted.
	if err := os.RemoveAll(filepath.Join(root, "pool")); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "pool"), 0o755)
	out := drsync(append(recovers[0], "--auto-approve")...)
	if !strings.Contains(out, "✓ recovered docs") {
		t.Errorf("recover:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(src, "notes", "report.txt")); err != nil || string(b) != "first version\n" {
		t.Errorf("recovered file: %q %v", b, err)
	}
	if out := drsync(recovers[1]...); !strings.Contains(out, "docs  PASS") {
		t.Errorf("verify-only:\n%s", out)
	}
}
