package recovery_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/prove"
	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner"
	"github.com/drsync/drsync/recovery"
	"github.com/drsync/drsync/recovery/prepare"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/schema"
)

// rig is the small desired state on real loop-mounted btrfs.
type rig struct {
	t   *testing.T
	d   *schema.Desired
	st  btrfs.Storage
	j   *journal.Journal
	loc *time.Location
}

func newRig(t *testing.T) *rig { return newRigOf(t, "../testdata/desired/small.cue") }

func newRigOf(t *testing.T, desired string) *rig {
	t.Helper()
	if err := sandbox.Available(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	d, err := schema.Load(desired, []string{"root=" + dir, "drive_uuid=" + sandbox.NewUUID()})
	if err != nil {
		t.Fatal(err)
	}
	layout, err := sandbox.LayoutFor(d, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sandbox.Down(context.Background(), dir); err != nil {
			t.Errorf("sandbox down: %v", err)
		}
	})
	if err := sandbox.Up(t.Context(), dir, layout); err != nil {
		t.Fatal(err)
	}
	j, err := journal.OpenJournal(d.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Skip(err)
	}
	return &rig{t: t, d: d, j: j, loc: loc}
}

func (r *rig) at(s string) time.Time {
	tm, err := time.ParseInLocation("2006-01-02 15:04", s, r.loc)
	if err != nil {
		r.t.Fatal(err)
	}
	return tm
}

func (r *rig) env() reconcile.Env {
	return reconcile.Env{Storage: r.st, Journal: r.j, Prover: prove.New(r.st, r.d), Desired: r.d}
}

func (r *rig) observe() *model.Observed {
	r.t.Helper()
	o, err := reconcile.Observe(r.d, r.env(), r.loc)
	if err != nil {
		r.t.Fatal(err)
	}
	return o
}

// apply plans and applies at now and returns the finished events.
func (r *rig) apply(now time.Time) (*model.Plan, []reconcile.Event) {
	r.t.Helper()
	p := planner.Compute(r.d, r.observe(), now)
	var events []reconcile.Event
	_, err := reconcile.Apply(r.t.Context(), p, r.env(), func(e reconcile.Event) {
		if e.Phase != model.PhaseStart {
			events = append(events, e)
		}
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return p, events
}

// recoverPlan plans req the way drsync recover does.
func (r *rig) recoverPlan(req recovery.Request) (*recovery.Plan, error) {
	r.t.Helper()
	entries, err := r.j.Entries()
	if err != nil {
		r.t.Fatal(err)
	}
	in := recovery.Input{Desired: r.d, Observed: r.observe(), Verified: recovery.VerifiedFrom(entries), Targets: map[string]recovery.Target{}}
	for _, name := range req.Names {
		path := recovery.TargetPath(r.d, name, req.To)
		tg, err := prepare.ObserveTarget(r.st, path)
		if err != nil {
			r.t.Fatal(err)
		}
		in.Targets[path] = tg
	}
	return recovery.Compute(in, req)
}

func (r *rig) recover(req recovery.Request) []recovery.Result {
	r.t.Helper()
	p, err := r.recoverPlan(req)
	if err != nil {
		r.t.Fatal(err)
	}
	res, err := recovery.Execute(r.t.Context(), p, recovery.Env{Storage: r.st, Journal: r.j}, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	return res
}

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

func checkFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s after recovery: %d bytes, %v (want %d bytes)", name, len(got), err, len(want))
		}
	}
}

// TestRecoverDestroyedSourceFromDrive is DR-001 on the small example: the
// source and every local snapshot are destroyed; recover receives the
// verified replica back into the snapshot directory, puts a writable
// snapshot of it at the source, verifies the whole tree, and the next
// apply sends incrementally from the received snapshot.
func TestRecoverDestroyedSourceFromDrive(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	src := r.d.Subvolumes["docs"].Source
	files := map[string][]byte{
		"big.bin":          bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16),
		"notes/today.txt":  []byte("remember the milk\n"),
		"notes/deep/x.txt": []byte("x"),
	}
	writeFiles(t, src, files)
	r.apply(r.at("2026-11-22 03:30"))
	localDir := r.d.SnapshotDir("pool", "docs")
	snaps, _, err := btrfs.List(localDir)
	if err != nil || len(snaps) != 1 {
		t.Fatalf("local snapshots after the first apply: %v %v", snaps, err)
	}
	snap := snaps[0].Name

	// The disaster: the source and its local snapshots are gone.
	if err := btrfs.Delete(ctx, src, filepath.Join(localDir, snap)); err != nil {
		t.Fatal(err)
	}
	p, err := r.recoverPlan(recovery.Request{Names: []string{"docs"}, Now: r.at("2026-11-22 09:00")})
	if err != nil {
		t.Fatal(err)
	}
	rec := p.Recoveries[0]
	if !rec.External || rec.Snapshot != snap || rec.Receive != filepath.Join(localDir, snap) ||
		rec.Target.State != recovery.TargetMissing || rec.KeepAside != "" || rec.Choice.Verified.IsZero() {
		t.Fatalf("recovery plan: %+v", rec)
	}
	res, err := recovery.Execute(ctx, p, recovery.Env{Storage: r.st, Journal: r.j}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Verified.Files < len(files) || len(res[0].Verified.Mismatches) != 0 || res[0].ReceivedBytes < 8<<20 {
		t.Errorf("result: %+v", res[0])
	}
	checkFiles(t, src, files)
	info, err := btrfs.Info(src)
	if err != nil || info.ReadOnly {
		t.Fatalf("recovered source must be a writable subvolume: %+v %v", info, err)
	}
	received, err := btrfs.Info(filepath.Join(localDir, snap))
	if err != nil || !received.ReadOnly || received.ReceivedUUID == "" || info.ParentUUID != received.UUID {
		t.Fatalf("the source must be a snapshot of the received copy: source %+v, received %+v, %v", info, received, err)
	}
	// Every step is journaled, before and after.
	entries, _ := r.j.Entries()
	var steps []string
	for _, e := range entries {
		if e.Action != nil && e.Action.Kind == model.KindRecover && e.Phase == model.PhaseDone {
			steps = append(steps, e.Action.Recover.Step)
		}
	}
	if want := []string{"receive", "clone", "verify", "place"}; !slices.Equal(steps, want) {
		t.Errorf("journaled steps %v, want %v", steps, want)
	}

	// The next apply's send is incremental from the received snapshot.
	writeFiles(t, src, map[string][]byte{"notes/new.txt": bytes.Repeat([]byte("y"), 10<<10)})
	_, events := r.apply(r.at("2026-11-23 03:30"))
	var sent bool
	for _, e := range events {
		a := e.Action
		if a.Kind != model.KindSend || a.Subvolume != "docs" {
			continue
		}
		sent = true
		if e.Phase != model.PhaseDone || a.Send.Parent != filepath.Join(localDir, snap) || e.Bytes == 0 || e.Bytes > 256<<10 {
			t.Errorf("send after recovery: parent %q, %d bytes, %s %v (want incremental from %s, under 256 KiB)", a.Send.Parent, e.Bytes, e.Phase, e.Err, snap)
		}
	}
	if !sent {
		t.Error("no send of docs after the recovery")
	}
}

// TestRecoverKeepsExistingSourceAside wipes a source whose snapshots
// survive: recover makes the target from the local snapshot, keeps the
// wiped source as a read-only <name>.pre-recover-<time> snapshot that
// observation leaves alone (foreign: never pruned), and replaces it.
func TestRecoverKeepsExistingSourceAside(t *testing.T) {
	r := newRig(t)
	src := r.d.Subvolumes["docs"].Source
	files := map[string][]byte{"a.txt": []byte("alpha"), "dir/b.txt": []byte("beta")}
	writeFiles(t, src, files)
	r.apply(r.at("2026-11-22 03:30"))
	// The wipe leaves one stray file, which must survive in the kept copy.
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(src, e.Name()))
	}
	writeFiles(t, src, map[string][]byte{"stray.txt": []byte("after the wipe")})

	res := r.recover(recovery.Request{Names: []string{"docs"}, Now: r.at("2026-11-22 09:00")})
	kept := res[0].KeptAside
	localDir := r.d.SnapshotDir("pool", "docs")
	if kept != filepath.Join(localDir, "docs.pre-recover-20261122T090000") || res[0].ReceivedBytes != 0 {
		t.Fatalf("result: %+v", res[0])
	}
	checkFiles(t, src, files)
	if _, err := os.Lstat(filepath.Join(src, "stray.txt")); err == nil {
		t.Error("the wiped source's file is still in the recovered source")
	}
	checkFiles(t, kept, map[string][]byte{"stray.txt": []byte("after the wipe")})
	if info, err := btrfs.Info(kept); err != nil || !info.ReadOnly {
		t.Errorf("kept-aside copy must be a read-only snapshot: %+v %v", info, err)
	}
	obs := r.observe()
	if st := obs.Subvolumes["docs"]; !slices.Contains(st.Foreign, kept) || model.HasName(st.Local, filepath.Base(kept)) {
		t.Errorf("the kept-aside snapshot must be foreign to observation: local %v, foreign %v", st.Local, st.Foreign)
	}
	// A year of applies never prunes it.
	for _, day := range []string{"2026-11-23 03:30", "2026-12-30 03:30", "2027-06-01 03:30", "2027-12-01 03:30"} {
		p, _ := r.apply(r.at(day))
		for _, a := range p.Actions() {
			if a.Path == kept {
				t.Fatalf("%s planned %s on the kept-aside snapshot", day, a.Kind)
			}
		}
	}
	if _, err := os.Lstat(kept); err != nil {
		t.Errorf("kept-aside snapshot gone: %v", err)
	}
}

// TestWipedSourceHoldsBackPrunes: on real btrfs, a wiped source and then a
// source replaced by a new subvolume hold back every prune of docs (local
// and drive); after drsync recover, retention prunes again.
func TestWipedSourceHoldsBackPrunes(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	src := r.d.Subvolumes["docs"].Source
	writeFiles(t, src, map[string][]byte{"a.txt": []byte("a"), "b/c.txt": []byte("c")})
	localDir := r.d.SnapshotDir("pool", "docs")
	if err := os.MkdirAll(localDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 20; i >= 1; i-- {
		if err := btrfs.Snapshot(ctx, src, filepath.Join(localDir, snapname("docs", r.at("2026-11-22 02:00").AddDate(0, 0, -i)))); err != nil {
			t.Fatal(err)
		}
	}
	before := names(t, localDir)
	checkHeld := func(when, want string) {
		t.Helper()
		p, _ := r.apply(r.at(when))
		for _, sp := range p.Subvolumes {
			if sp.Name != "docs" {
				continue
			}
			for _, a := range sp.Actions {
				if a.Kind == model.KindPrune {
					t.Errorf("%s: prune of %s planned", when, a.Snapshot)
				}
			}
			if w := strings.Join(sp.Warnings, "\n"); !strings.Contains(w, want) {
				t.Errorf("%s: warnings %q, want %q", when, w, want)
			}
		}
		for _, n := range before {
			if _, err := os.Lstat(filepath.Join(localDir, n)); err != nil {
				t.Errorf("%s: %s is gone", when, n)
			}
		}
	}
	// Wiped.
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(src, e.Name()))
	}
	checkHeld("2026-11-22 03:30", "source looks destroyed: it is empty")
	// Replaced by a new subvolume holding as much as before.
	if err := btrfs.Delete(ctx, src); err != nil {
		t.Fatal(err)
	}
	if err := btrfs.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, src, map[string][]byte{"x.txt": []byte("x"), "y/z.txt": []byte("z"), "w.txt": []byte("w")})
	checkHeld("2026-11-23 03:30", "it is a new subvolume with no ancestry to its snapshots")

	r.recover(recovery.Request{Names: []string{"docs"}, From: before[len(before)-1], Now: r.at("2026-11-23 09:00")})
	p, _ := r.apply(r.at("2026-11-24 03:30"))
	pruned := 0
	for _, a := range p.Actions() {
		if a.Kind == model.KindPrune && a.Subvolume == "docs" && !a.External {
			pruned++
		}
	}
	if pruned == 0 {
		t.Error("after the recovery retention prunes nothing")
	}
}

func snapname(subvol string, t time.Time) string { return subvol + "." + t.Format("20060102T1504") }

func names(t *testing.T, dir string) []string {
	t.Helper()
	subs, _, err := btrfs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range subs {
		out = append(out, s.Name)
	}
	return out
}

// nestedCUE keeps home's snapshots inside home, as the homelab example does.
const nestedCUE = `package drsync

root: *"" | string @tag(root)
stateDir: "\(root)/state"
restore: scratch: "\(root)/scratch"
generate: enabled: {metrics: false, alertRules: false, scrapeConfig: false, dashboard: false, systemd: false, runbooks: false}
locations: {
	home: path: "\(root)/sys/home/me/.snapshots"
	usb: {external: true, path: "\(root)/usb/.snapshots", mount: "\(root)/usb", uuid: *"0d2c7a3e-1b4f-4e6a-9c8d-7f6e5d4c3b2a" | string @tag(drive_uuid)}
}
tiers: "1": {rpo: "7d", rto: "1h"}
subvolumes: home: {
	tier: "1", source: "\(root)/sys/home"
	snapshots: {location: "home", schedule: "daily 02:00", retention: daily: 7}
	external: {location: "usb", schedule: "daily 03:00", retention: daily: 7}
}
// A second source on the filesystem, so the sandbox mounts it above home.
subvolumes: other: {
	tier: "1", source: "\(root)/sys/other"
	snapshots: {location: "home", schedule: "daily 02:00", retention: daily: 7}
}
`

// TestRecoverNestedSnapshotDir: home's snapshot directory lies inside
// home, so losing home loses its snapshots. The replica is received
// beside the target, and moved into the recovered home's snapshot
// directory once home is back, where the next apply finds it as the
// parent of an incremental send.
func TestRecoverNestedSnapshotDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "nested.cue")
	if err := os.WriteFile(file, []byte(nestedCUE), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRigOf(t, file)
	src := r.d.Subvolumes["home"].Source
	files := map[string][]byte{"me/thesis.tex": bytes.Repeat([]byte("latex "), 1<<20)}
	writeFiles(t, src, files)
	r.apply(r.at("2026-11-22 03:30"))
	// The disaster takes home and every snapshot inside it.
	for _, sub := range []string{"home", "other"} {
		dir := r.d.SnapshotDir("home", sub)
		for _, n := range names(t, dir) {
			if err := btrfs.Delete(t.Context(), filepath.Join(dir, n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := btrfs.Delete(t.Context(), src); err != nil {
		t.Fatal(err)
	}
	res := r.recover(recovery.Request{Names: []string{"home"}, From: "home.20261122T0330", Now: r.at("2026-11-22 09:00")})
	checkFiles(t, src, files)
	moved := filepath.Join(r.d.SnapshotDir("home", "home"), "home.20261122T0330")
	if info, err := btrfs.Info(moved); err != nil || !info.ReadOnly || info.ReceivedUUID == "" {
		t.Fatalf("the received snapshot must be in the recovered home's snapshot directory: %+v %v (%+v)", info, err, res)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(src), ".home.drsync-recover-*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	if why := r.observe().Subvolumes["home"].Disaster(); why != "" {
		t.Errorf("the recovered home looks destroyed to the planner: %s", why)
	}
	writeFiles(t, src, map[string][]byte{"me/new.txt": []byte("new")})
	_, events := r.apply(r.at("2026-11-23 03:30"))
	for _, e := range events {
		if e.Action.Kind == model.KindSend && e.Action.Subvolume == "home" && (e.Action.Send.Parent != moved || e.Bytes > 256<<10) {
			t.Errorf("send after recovery: parent %q, %d bytes", e.Action.Send.Parent, e.Bytes)
		}
	}
}
