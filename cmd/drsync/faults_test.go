package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/render"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/schema"
)

// faultRig is a sandbox of testdata/desired/small.cue after one apply:
// every subvolume snapshotted, sent, tested.
type faultRig struct {
	t       *testing.T
	dir     string
	d       *schema.Desired
	args    []string
	replica string // docs' replica on the drive
	local   string // the local snapshot it came from
	// outside is a directory outside the sandbox that the source's
	// etc-link points at, holding a canary file no run may touch.
	outside string
}

func newFaultRig(t *testing.T) *faultRig {
	t.Helper()
	file, _ := filepath.Abs("../../testdata/desired/small.cue")
	return newFaultRigFrom(t, t.TempDir(), file)
}

// newFaultRigFrom is newFaultRig for a desired state at file (a directory
// of .cue files works) whose root is dir.
func newFaultRigFrom(t *testing.T, dir, file string) *faultRig {
	t.Helper()
	if err := sandbox.Available(); err != nil {
		t.Skip(err)
	}
	uuid := sandbox.NewUUID()
	d, err := schema.Load(file, []string{"root=" + dir, "drive_uuid=" + uuid})
	if err != nil {
		t.Fatal(err)
	}
	layout, err := sandbox.LayoutFor(d, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sandbox.Down(context.Background(), dir) })
	if err := sandbox.Up(t.Context(), dir, layout); err != nil {
		t.Fatal(err)
	}
	// A symlink out of the sandbox in the source, as a symlink to /etc
	// would be: restores must never follow it out. (Its target is the
	// test's own, so other tests changing /etc cannot disturb it.)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(d.Subvolumes["docs"].Source, "etc-link")); err != nil {
		t.Fatal(err)
	}
	r := &faultRig{t: t, dir: dir, d: d, outside: outside, args: []string{"-f", file, "-t", "root=" + dir, "-t", "drive_uuid=" + uuid}}
	if code, out := r.run("apply", "--auto-approve"); code != 0 {
		t.Fatalf("apply: %d\n%s", code, out)
	}
	subs, _, err := btrfs.List(d.SnapshotDir("usb", "docs"))
	if err != nil || len(subs) != 1 {
		t.Fatalf("replicas: %v %v", subs, err)
	}
	r.replica = subs[0].Path
	r.local = filepath.Join(d.SnapshotDir("pool", "docs"), subs[0].Name)
	return r
}

func (r *faultRig) run(args ...string) (int, string) {
	var out bytes.Buffer
	code := run(append(args, r.args...), strings.NewReader(""), &out, &out)
	return code, out.String()
}

// tamper changes a read-only snapshot and keeps it what it was: a replica
// keeps its received UUID (making it writable clears it, as btrfs
// property set -f does), so the damage is found by the test, not by the
// planner as a half-received subvolume.
func tamper(t *testing.T, snap string, change func()) {
	t.Helper()
	info, err := btrfs.Info(snap)
	if err != nil {
		t.Fatal(err)
	}
	if err := btrfs.SetReadOnly(snap, false); err != nil {
		t.Fatal(err)
	}
	change()
	if info.ReceivedUUID != "" {
		if err := btrfs.SetReceivedUUID(snap, info.ReceivedUUID, info.Generation); err != nil {
			t.Fatal(err)
		}
	}
	if err := btrfs.SetReadOnly(snap, true); err != nil {
		t.Fatal(err)
	}
	after, err := btrfs.Info(snap)
	if err != nil || after.ReceivedUUID != info.ReceivedUUID || !after.ReadOnly {
		t.Fatalf("tampered snapshot is no longer what it was: %+v %v", after, err)
	}
}

// someFile returns a non-empty regular file of the tree, by relative path.
func someFile(t *testing.T, root string) string {
	t.Helper()
	var found string
	filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil || found != "" || !e.Type().IsRegular() {
			return nil
		}
		if info, err := e.Info(); err == nil && info.Size() > 100 && info.Mode().Perm()&0o200 != 0 {
			found, _ = filepath.Rel(root, p)
		}
		return nil
	})
	if found == "" {
		t.Fatal("no file to damage")
	}
	return found
}

func TestRestoreTestCatchesDamage(t *testing.T) {
	tests := []struct {
		name  string
		check string
		local bool // damage the local snapshot instead of the replica
		fault func(t *testing.T, path string)
	}{
		{"flipped-byte", "sha256", false, func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 1)
			f.ReadAt(b, 50)
			b[0] ^= 0x01
			f.WriteAt(b, 50)
			f.Close()
		}},
		{"mode", "mode", false, func(t *testing.T, p string) { os.Chmod(p, 0o777) }},
		{"owner", "owner", false, func(t *testing.T, p string) { os.Lchown(p, 4321, 4321) }},
		{"xattr", "xattr:user.drsync-test", false, func(t *testing.T, p string) {
			if err := unix.Lsetxattr(p, "user.drsync-test", []byte("tampered"), 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"deleted", "missing", false, func(t *testing.T, p string) { os.Remove(p) }},
		{"truncated", "size", false, func(t *testing.T, p string) { os.Truncate(p, 10) }},
		{"local-snapshot-damaged", "sha256", true, func(t *testing.T, p string) { os.WriteFile(p, []byte("not what was sent"), 0o644) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newFaultRig(t)
			target := r.replica
			if tc.local {
				target = r.local
			}
			rel := someFile(t, target)
			tamper(t, target, func() { tc.fault(t, filepath.Join(target, rel)) })
			code, out := r.run("test", "--subvolume", "docs", "--sample-size", "100000")
			if code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", code, out)
			}
			if !strings.Contains(out, "docs  FAIL") || !strings.Contains(out, rel) || !strings.Contains(out, tc.check) {
				t.Errorf("the report should name %s and the check %s:\n%s", rel, tc.check, out)
			}
			if !tc.local {
				code, out = r.run("drill", "--subvolume", "docs")
				if code != 1 || !strings.Contains(out, "docs  FAIL") {
					t.Errorf("drill of a damaged replica: exit %d\n%s", code, out)
				}
			}
		})
	}
}

func TestRestoreTestPassesAndStaysInScratch(t *testing.T) {
	r := newFaultRig(t)
	canary := filepath.Join(r.outside, "passwd")
	before, err := os.Stat(canary)
	if err != nil {
		t.Fatal(err)
	}
	code, out := r.run("test", "--subvolume", "docs", "--sample-size", "100000", "--seed", "7")
	if code != 0 || !strings.Contains(out, "docs  PASS") || !strings.Contains(out, "seed 7") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	after, _ := os.Stat(canary)
	if entries, _ := os.ReadDir(r.outside); len(entries) != 1 || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the directory behind the source's symlink changed during a restore test: %v", entries)
	}
	left, _ := os.ReadDir(r.d.Restore.Scratch)
	if len(left) != 0 {
		t.Errorf("a passed test left scratch behind: %v", left)
	}
	code, out = r.run("drill", "--subvolume", "docs")
	if code != 0 || !strings.Contains(out, "RTO") || !strings.Contains(out, "verifying") {
		t.Fatalf("drill: exit %d\n%s", code, out)
	}
	// The evidence times the restore (the RTO) and the verification apart.
	code, out = r.run("drill", "--subvolume", "docs", "--json")
	var drill struct{ Reports []model.TestReport }
	if err := json.Unmarshal([]byte(out), &drill); code != 0 || err != nil || len(drill.Reports) != 1 {
		t.Fatalf("drill --json: exit %d, %v\n%s", code, err, out)
	}
	if dr := drill.Reports[0]; dr.RestoreSeconds <= 0 || dr.VerifySeconds <= 0 || dr.RestoreSeconds+dr.VerifySeconds > dr.Seconds+1e-6 || dr.RTOSeconds() != dr.RestoreSeconds {
		t.Errorf("drill evidence: restore %gs + verify %gs, whole %gs: want both measured, within the whole", dr.RestoreSeconds, dr.VerifySeconds, dr.Seconds)
	}
	code, out = r.run("status", "--json")
	if code != 0 || !strings.Contains(out, `"verifiedAgeSeconds"`) || !strings.Contains(out, `"restoreSeconds"`) || !strings.Contains(out, `"verifySeconds"`) {
		t.Errorf("status after tests: %d\n%s", code, out)
	}
	if code, out = r.run("status"); code != 0 || !strings.Contains(out, "verifying (target") {
		t.Errorf("status shows no drill verification time: %d\n%s", code, out)
	}
}

func TestEmptySnapshotIsSkip(t *testing.T) {
	r := newFaultRig(t)
	// media is filled by the sandbox; empty it and snapshot again by hand.
	src := r.d.Subvolumes["media"].Source
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(src, e.Name()))
	}
	dir := r.d.SnapshotDir("pool", "media")
	if err := btrfs.Snapshot(t.Context(), src, filepath.Join(dir, "media.20991231T2359")); err != nil {
		t.Fatal(err)
	}
	// Unplug the drive so the test reads the (empty) local snapshot.
	if out, err := exec.Command("umount", r.d.Locations["usb"].Mount).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	code, out := r.run("test", "--subvolume", "media", "--json")
	if !strings.Contains(out, `"result": "skip"`) || strings.Contains(out, `"result": "pass"`) {
		t.Errorf("an empty snapshot must be SKIP, never PASS (exit %d):\n%s", code, out)
	}
}

// TestFailedRestoreTestFiresAlert damages a replica, lets `drsync test`
// find it, and checks that a real Prometheus, scraping the metrics drsync
// wrote through a real node_exporter with the rules drsync generated,
// raises RestoreTestFailed for the subvolume.
func TestFailedRestoreTestFiresAlert(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus and node_exporter")
	}
	stack := promtest.NewStack(t)
	r := newFaultRig(t)
	rel := someFile(t, r.replica)
	tamper(t, r.replica, func() { os.WriteFile(filepath.Join(r.replica, rel), []byte("rot"), 0o644) })
	if code, out := r.run("test", "--subvolume", "docs", "--sample-size", "100000"); code != 1 {
		t.Fatalf("test of a damaged replica: exit %d\n%s", code, out)
	}
	d := *r.d
	d.Generate.NodeExporter = stack.NodeAddr
	scrape, err := render.ScrapeConfig(view.Input{Desired: &d, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	stack.Start(t, filepath.Dir(d.Generate.Metrics), d.Generate.AlertRules, scrape)
	stack.WaitAlerts(t, []string{"RestoreTestFailed/docs"}, 60*time.Second)
}
