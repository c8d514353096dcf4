package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/statusview"
)

// TestDamagedSendParent: a local snapshot that was sent is altered, so
// every incremental send from it fails at receive. The failure is reported
// with btrfs's reason and its date (status, metric), the next plan avoids
// that parent (a full send here: it is the only common one), and that
// send succeeds and ends the failure.
func TestDamagedSendParent(t *testing.T) {
	r := newFaultRig(t)
	parent := filepath.Base(r.local)
	rel := someFile(t, r.local)
	tamper(t, r.local, func() {
		// An xattr the source never had: the next incremental stream
		// removes it, and receive fails on the replica that lacks it.
		if err := unix.Lsetxattr(filepath.Join(r.local, rel), "user.damage", []byte("x"), 0); err != nil {
			t.Skipf("no user xattrs here: %v", err)
		}
	})
	next := time.Now().Add(25 * time.Hour).Format(time.RFC3339)
	code, out := r.run("apply", "--auto-approve", "--now", next)
	if code == 0 {
		t.Fatalf("apply with a damaged parent succeeded:\n%s", out)
	}
	if !strings.Contains(out, "incremental from "+parent) {
		t.Fatalf("the first send after the damage is not incremental from %s:\n%s", parent, out)
	}

	code, out = r.run("status", "--json")
	if code != 0 {
		t.Fatalf("status: %d\n%s", code, out)
	}
	var rows []statusview.Row
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	var failing bool
	for _, row := range rows {
		if row.Name != "docs" {
			continue
		}
		f := row.SendFailing
		if f == nil || f.Since.IsZero() || len(f.Parents) != 1 || f.Parents[0] != parent {
			t.Fatalf("status does not report the failing send from %s: %+v", parent, f)
		}
		// btrfs receive's own words, not only drsync's wrapping.
		if !strings.Contains(f.Error, "ERROR") {
			t.Errorf("status lacks btrfs's reason: %q", f.Error)
		}
		failing = true
	}
	if !failing {
		t.Fatal("status has no row for docs")
	}
	prom, err := os.ReadFile(r.d.Generate.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(prom), `backup_send_failing_since_timestamp{subvolume="docs",tier="1"}`) {
		t.Errorf("metrics lack the failing send:\n%s", prom)
	}

	code, out = r.run("plan", "--now", next)
	if !strings.Contains(out, "full send (a send from "+parent+" failed") || !strings.Contains(out, "send failing since") {
		t.Fatalf("plan after the failure (exit %d) does not avoid %s or warn:\n%s", code, parent, out)
	}
	if code, out = r.run("apply", "--auto-approve", "--now", next); code != 0 {
		t.Fatalf("apply with a full send: %d\n%s", code, out)
	}
	subs, _, err := btrfs.List(r.d.SnapshotDir("usb", "docs"))
	if err != nil || len(subs) != 2 {
		t.Fatalf("replicas after the full send: %v %v", subs, err)
	}
	if _, out = r.run("status"); strings.Contains(out, "send FAILING") {
		t.Errorf("a successful send did not end the failure:\n%s", out)
	}
	prom, _ = os.ReadFile(r.d.Generate.Metrics)
	if strings.Contains(string(prom), "backup_send_failing_since_timestamp{") {
		t.Errorf("metrics still report a failing send after a successful one")
	}
}
