package reconcile_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drsync/drsync/prove"
	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/providers/services"
	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
)

// rig is a sandbox machine built from a desired state on real loop-mounted
// btrfs, torn down when the test ends.
type rig struct {
	t   *testing.T
	dir string
	d   *schema.Desired
	st  btrfs.Storage
	j   *journal.Journal
	loc *time.Location
}

func newRig(t *testing.T, desired string) *rig {
	t.Helper()
	if err := sandbox.Available(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	prom, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	prom.Close()
	// Each sandbox drive gets its own UUID and Prometheus its own port,
	// where the desired state has tags for them.
	src, err := os.ReadFile(desired)
	if err != nil {
		t.Fatal(err)
	}
	tags := []string{"root=" + dir}
	if strings.Contains(string(src), "@tag(drive_uuid)") {
		tags = append(tags, "drive_uuid="+sandbox.NewUUID())
	}
	if strings.Contains(string(src), "@tag(luks_verify") {
		tags = append(tags, "luks_verify=false") // the sandbox drive is a loop device
	}
	if strings.Contains(string(src), "@tag(prometheus_url)") {
		tags = append(tags, "prometheus_url=http://"+prom.Addr().String())
	}
	d, err := schema.Load(desired, tags)
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
	if err := sandbox.StartServices(t.Context(), dir, d); err != nil {
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
	return &rig{t: t, dir: dir, d: d, j: j, loc: loc}
}

func (r *rig) env() reconcile.Env {
	return reconcile.Env{Storage: r.st, Services: services.Store{}, Journal: r.j, Prover: prove.New(r.st, r.d), Desired: r.d}
}

func (r *rig) at(s string) time.Time {
	tm, err := time.ParseInLocation("2006-01-02 15:04", s, r.loc)
	if err != nil {
		r.t.Fatal(err)
	}
	return tm
}

func (r *rig) plan(now time.Time) *model.Plan {
	r.t.Helper()
	obs, err := reconcile.Observe(r.d, r.env(), r.loc)
	if err != nil {
		r.t.Fatal(err)
	}
	return planner.Compute(r.d, obs, now)
}

// apply plans and applies at now through the whole pipeline, as `drsync
// apply` does, returning the plan and the events.
func (r *rig) apply(now time.Time) (*model.Plan, []reconcile.Event, error) {
	r.t.Helper()
	var events []reconcile.Event
	out, err := reconcile.Run(r.t.Context(), r.env(), reconcile.RunOptions{Now: now, Notify: func(e reconcile.Event) {
		if e.Phase != model.PhaseStart {
			events = append(events, e)
		}
	}})
	if out.Plan == nil {
		r.t.Fatalf("no plan: %v", err)
	}
	return out.Plan, events, err
}

func (r *rig) mustApply(now time.Time) []reconcile.Event {
	r.t.Helper()
	_, events, err := r.apply(now)
	if err != nil {
		r.t.Fatal(err)
	}
	return events
}

func (r *rig) names(location, subvol string) []string {
	r.t.Helper()
	subs, _, err := btrfs.List(r.d.SnapshotDir(location, subvol))
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, s := range subs {
		out = append(out, s.Name)
	}
	return out
}

func sentBytes(events []reconcile.Event, subvol string) int64 {
	var n int64
	for _, e := range events {
		if e.Action.Kind == model.KindSend && e.Action.Subvolume == subvol && e.Phase == model.PhaseDone {
			n += e.Bytes
		}
	}
	return n
}

func TestApplyThenPlanIsEmpty(t *testing.T) {
	r := newRig(t, "../examples/desired/homelab.cue")
	now := r.at("2026-11-22 03:30")
	p, events, err := r.apply(now)
	if err != nil {
		for _, e := range events {
			if e.Phase == model.PhaseFailed {
				t.Errorf("%s %s: %s", e.Action.Kind, e.Action.Snapshot, e.Error)
			}
		}
		t.Fatal(err)
	}
	if got := p.Count(); got[model.KindSnapshot] != 6 || got[model.KindSend] != 12 || got[model.KindBackup] != 6 {
		t.Fatalf("first apply: %v", got)
	}
	for _, e := range events {
		if e.Phase != model.PhaseDone {
			t.Errorf("%s %s: %s %v", e.Action.Kind, e.Action.Snapshot, e.Phase, e.Err)
		}
	}
	for _, name := range r.d.SubvolumeNames() {
		ext := r.names("WD-18TB", name)
		if len(ext) != 1 {
			t.Errorf("%s: replicas %v", name, ext)
		}
	}
	if again := r.plan(now.Add(time.Minute)); !again.Empty() {
		t.Errorf("second plan is not empty: %v", again.Actions())
	}
}

func TestIncrementalSendTransfersTheChange(t *testing.T) {
	r := newRig(t, "../testdata/desired/small.cue")
	src := r.d.Subvolumes["docs"].Source
	big := bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16) // 8 MiB
	if err := os.WriteFile(filepath.Join(src, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	full := sentBytes(r.mustApply(r.at("2026-11-22 03:30")), "docs")
	if full < 8<<20 {
		t.Fatalf("full send carried %d bytes, less than the 8 MiB file", full)
	}
	change := bytes.Repeat([]byte("x"), 10<<10)
	if err := os.WriteFile(filepath.Join(src, "notes.txt"), change, 0o644); err != nil {
		t.Fatal(err)
	}
	events := r.mustApply(r.at("2026-11-23 03:30"))
	inc := sentBytes(events, "docs")
	if inc == 0 || inc > 256<<10 {
		t.Errorf("incremental send of a 10 KiB change carried %d bytes (full: %d)", inc, full)
	}
	for _, e := range events {
		if e.Action.Kind == model.KindSend && e.Action.Subvolume == "docs" && e.Action.Send.Parent == "" {
			t.Errorf("second send was not incremental: %+v", e.Action)
		}
	}
}

// TestKilledReceiveIsRepaired kills a real `btrfs receive` halfway through
// a stream, which leaves a writable subvolume without received UUID; the
// next plan removes it and sends again.
func TestKilledReceiveIsRepaired(t *testing.T) {
	r := newRig(t, "../testdata/desired/small.cue")
	src := r.d.Subvolumes["docs"].Source
	if err := os.WriteFile(filepath.Join(src, "big.bin"), bytes.Repeat([]byte{7}, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	// Only snapshot locally first: the drive is not mounted yet.
	mount := r.d.Locations["usb"].Mount
	if err := exec.Command("umount", mount).Run(); err != nil {
		t.Fatal(err)
	}
	r.mustApply(r.at("2026-11-22 03:30"))
	local := r.names("pool", "docs")
	if len(local) != 1 {
		t.Fatalf("local snapshots %v", local)
	}
	remountDrive(t, r)
	snapPath := filepath.Join(r.d.SnapshotDir("pool", "docs"), local[0])
	stream, err := exec.Command("btrfs", "send", "-q", snapPath).Output()
	if err != nil {
		t.Fatal(err)
	}
	destDir := r.d.SnapshotDir("usb", "docs")
	os.MkdirAll(destDir, 0o755)
	recv := exec.Command("btrfs", "receive", destDir)
	in, _ := recv.StdinPipe()
	if err := recv.Start(); err != nil {
		t.Fatal(err)
	}
	// The apply that ran this receive died with it: its journal shows the
	// send started and never finished, which is what makes it a repair.
	died := r.at("2026-11-22 03:35")
	for _, e := range []model.JournalEntry{
		{Time: died, Run: "died", Phase: model.PhaseRunStart, Command: "apply"},
		{Time: died, Run: "died", Phase: model.PhaseStart, Action: &model.Action{Kind: model.KindSend,
			Subvolume: "docs", Location: "usb", Snapshot: local[0], Path: filepath.Join(destDir, local[0]), External: true}},
	} {
		if err := r.j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	in.Write(stream[:len(stream)/2])
	recv.Process.Signal(syscall.SIGKILL)
	recv.Wait()
	half, err := btrfs.Info(filepath.Join(destDir, local[0]))
	if err != nil || half.ReceivedUUID != "" {
		t.Fatalf("the killed receive should leave a half-received subvolume: %+v %v", half, err)
	}

	p, events, err := r.apply(r.at("2026-11-22 03:40"))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, a := range p.Actions() {
		if a.Subvolume == "docs" {
			kinds = append(kinds, string(a.Kind)+" "+a.Snapshot)
		}
	}
	want := []string{"repair " + local[0], "send " + local[0]}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Fatalf("plan for docs (-want +got):\n%s", diff)
	}
	if !strings.Contains(p.Subvolumes[0].Actions[0].Reason, "half-received") {
		t.Errorf("the plan does not say why: %q", p.Subvolumes[0].Actions[0].Reason)
	}
	_ = events
	rep, err := btrfs.Info(filepath.Join(destDir, local[0]))
	if err != nil || rep.ReceivedUUID == "" || !rep.ReadOnly {
		t.Fatalf("replica after repair: %+v %v", rep, err)
	}
}

func remountDrive(t *testing.T, r *rig) {
	t.Helper()
	img := filepath.Join(r.dir, ".images")
	entries, _ := os.ReadDir(img)
	for _, e := range entries {
		path := filepath.Join(img, e.Name())
		out, _ := exec.Command("blkid", "-s", "UUID", "-o", "value", path).Output()
		if strings.TrimSpace(string(out)) == r.d.Locations["usb"].UUID {
			if out, err := exec.Command("mount", "-o", "loop", path, r.d.Locations["usb"].Mount).CombinedOutput(); err != nil {
				t.Fatalf("remount: %v %s", err, out)
			}
			return
		}
	}
	t.Fatal("drive image not found")
}

func TestAbsentDriveDefersSends(t *testing.T) {
	r := newRig(t, "../testdata/desired/small.cue")
	mount := r.d.Locations["usb"].Mount
	if err := exec.Command("umount", mount).Run(); err != nil {
		t.Fatal(err)
	}
	p, _, err := r.apply(r.at("2026-11-22 03:30"))
	if err != nil {
		t.Fatal(err)
	}
	if n := p.Count()[model.KindSend]; n != 0 {
		t.Errorf("%d sends planned to an absent drive", n)
	}
	if n := p.Count()[model.KindSnapshot]; n != 2 {
		t.Errorf("local snapshots must still be taken, planned %d", n)
	}
	if !p.Drives[0].Present && !strings.Contains(p.Drives[0].Reason, "nothing mounted") {
		t.Errorf("drive reason: %q", p.Drives[0].Reason)
	}
	left, _ := os.ReadDir(mount)
	if len(left) != 0 {
		t.Errorf("wrote into the bare mount point: %v", left)
	}
	// Back on the drive, the sends happen.
	remountDrive(t, r)
	if p := r.plan(r.at("2026-11-22 03:40")); p.Count()[model.KindSend] != 2 {
		t.Errorf("with the drive back: %v", p.Actions())
	}
}

func TestWrongFilesystemAtMountIsAbsent(t *testing.T) {
	r := newRig(t, "../testdata/desired/small.cue")
	mount := r.d.Locations["usb"].Mount
	if err := exec.Command("umount", mount).Run(); err != nil {
		t.Fatal(err)
	}
	other := sandbox.TestFS(t, 32)
	if out, err := exec.Command("mount", "--bind", other, mount).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mount).Run() })
	p := r.plan(r.at("2026-11-22 03:30"))
	if p.Drives[0].Present || !strings.Contains(p.Drives[0].Reason, "not the declared") {
		t.Errorf("another btrfs at the mount point must count as absent: %+v", p.Drives[0])
	}
}

// TestRetentionOverHistory lays down 40 days of snapshots with drsync's
// names and checks apply prunes exactly what "daily 7" says, leaving
// foreign subvolumes and directories alone.
func TestRetentionOverHistory(t *testing.T) {
	r := newRig(t, "../testdata/desired/small.cue")
	ctx := t.Context()
	src := r.d.Subvolumes["docs"].Source
	dir := r.d.SnapshotDir("pool", "docs")
	os.MkdirAll(dir, 0o755)
	last := r.at("2026-11-21 02:00")
	for i := 39; i >= 0; i-- {
		name := snapname.Format("docs", last.AddDate(0, 0, -i))
		if err := btrfs.Snapshot(ctx, src, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	// Foreign: a writable subvolume with a snapshot name, a snapshot of
	// another naming, and a plain directory named like a snapshot.
	if err := btrfs.Create(ctx, filepath.Join(dir, "docs.20200101")); err != nil {
		t.Fatal(err)
	}
	if err := btrfs.Snapshot(ctx, src, filepath.Join(dir, "docs-before-upgrade")); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "docs.20200102"), 0o755)

	r.mustApply(r.at("2026-11-22 03:30"))
	got := r.names("pool", "docs")
	var want []string
	for d := 15; d <= 21; d++ { // daily 7: today plus the 7 days before
		want = append(want, snapname.Format("docs", r.at("2026-11-01 02:00").AddDate(0, 0, d-1)))
	}
	want = append(want, "docs.20200101", "docs.20261122T0330", "docs-before-upgrade")
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after retention (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(dir, "docs.20200102")); err != nil {
		t.Errorf("plain directory removed: %v", err)
	}
}

// TestFailedSendHoldsBackPrunes makes the drive read-only so receive fails:
// the local snapshots retention would prune stay.
func TestFailedSendHoldsBackPrunes(t *testing.T) {
	r := newRig(t, "../testdata/desired/small.cue")
	ctx := t.Context()
	src := r.d.Subvolumes["docs"].Source
	dir := r.d.SnapshotDir("pool", "docs")
	os.MkdirAll(dir, 0o755)
	for i := 20; i >= 1; i-- {
		name := snapname.Format("docs", r.at("2026-11-22 02:00").AddDate(0, 0, -i))
		if err := btrfs.Snapshot(ctx, src, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	before := r.names("pool", "docs")
	mount := r.d.Locations["usb"].Mount
	if out, err := exec.Command("mount", "-o", "remount,ro", mount).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	p, events, err := r.apply(r.at("2026-11-22 03:30"))
	if err == nil {
		t.Fatal("apply succeeded although the drive is read-only")
	}
	if n := p.Count()[model.KindPrune]; n == 0 {
		t.Fatal("the plan should have had prunes to hold back")
	}
	after := r.names("pool", "docs")
	for _, name := range before {
		if !slices.Contains(after, name) {
			t.Errorf("%s was pruned although the send failed", name)
		}
	}
	skipped := 0
	for _, e := range events {
		if e.Phase == model.PhaseSkipped && e.Action.Subvolume == "docs" && e.Action.Kind == model.KindPrune {
			skipped++
		}
	}
	if skipped == 0 {
		t.Error("no prune reported as skipped")
	}
	entries, err := r.j.Entries()
	if err != nil {
		t.Fatal(err)
	}
	var failed bool
	for _, e := range entries {
		failed = failed || (e.Phase == model.PhaseFailed && e.Action.Kind == model.KindSend)
	}
	if !failed {
		t.Error("the failed send is not in the journal")
	}
}

func TestSecondApplyIsLockedOut(t *testing.T) {
	dir := t.TempDir()
	l, err := reconcile.AcquireLock(dir, "drsync apply")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	_, err = reconcile.AcquireLock(dir, "drsync apply")
	if !errors.Is(err, reconcile.ErrLocked) || !strings.Contains(err.Error(), "pid ") {
		t.Fatalf("second lock: %v", err)
	}
	l.Release()
	l2, err := reconcile.AcquireLock(dir, "drsync apply")
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Release()
}

// TestDriveUnpluggedAfterPlan plans with the drive present, unplugs it, and
// applies that plan: the sends fail, nothing lands on the bare mount
// point, and the local work still happens.
func TestDriveUnpluggedAfterPlan(t *testing.T) {
	r := newRig(t, "../testdata/desired/small.cue")
	p := r.plan(r.at("2026-11-22 03:30"))
	if p.Count()[model.KindSend] != 2 {
		t.Fatalf("plan: %v", p.Count())
	}
	mount := r.d.Locations["usb"].Mount
	if out, err := exec.Command("umount", mount).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	var failed []string
	_, err := reconcile.Apply(t.Context(), p, r.env(), func(e reconcile.Event) {
		if e.Phase == model.PhaseFailed {
			failed = append(failed, e.Error)
		}
	})
	if err == nil || len(failed) != 2 || !strings.Contains(failed[0], "no longer present") {
		t.Fatalf("apply after unplugging: %v %q", err, failed)
	}
	if left, _ := os.ReadDir(mount); len(left) != 0 {
		t.Errorf("wrote into the bare mount point: %v", left)
	}
	if got := r.names("pool", "docs"); len(got) != 1 {
		t.Errorf("local snapshot not taken: %v", got)
	}
}

// TestAdoptsBtrbkDirectory lays down what btrbk leaves in a snapshot_dir —
// two subvolumes' snapshots side by side, in its short, long and long-iso
// names, with a _N suffix — and checks drsync keeps them as history, prunes
// by the same rules and adds its own snapshot beside them.
func TestAdoptsBtrbkDirectory(t *testing.T) {
	r := newRig(t, "../testdata/desired/btrbk-flat.cue")
	ctx := t.Context()
	dir := r.d.Locations["pool"].Path
	os.MkdirAll(dir, 0o755)
	names := map[string][]string{
		"docs":  {"docs.20261101", "docs.20261110T0200", "docs.20261119T020000+0100", "docs.20261120T0200", "docs.20261120T0200_1", "docs.20261121T0200"},
		"media": {"media.20261115T0200", "media.20261121T0200"},
	}
	for subvol, list := range names {
		for _, n := range list {
			if err := btrfs.Snapshot(ctx, r.d.Subvolumes[subvol].Source, filepath.Join(dir, n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	p, _, err := r.apply(r.at("2026-11-22 03:30"))
	if err != nil {
		t.Fatal(err)
	}
	var pruned []string
	for _, a := range p.Actions() {
		if a.Kind == model.KindPrune {
			pruned = append(pruned, a.Snapshot)
		}
		if a.Kind == model.KindSnapshot && filepath.Dir(a.Path) != dir {
			t.Errorf("new snapshot outside the shared directory: %s", a.Path)
		}
	}
	sort.Strings(pruned)
	// daily 7 keeps Nov 15-22 for docs (the first of Nov 20, not its _1);
	// daily 3 keeps Nov 19-22 for media.
	want := []string{"docs.20261101", "docs.20261110T0200", "docs.20261120T0200_1", "media.20261115T0200"}
	if diff := cmp.Diff(want, pruned); diff != "" {
		t.Errorf("prunes (-want +got):\n%s", diff)
	}
	if again := r.plan(r.at("2026-11-22 03:31")); !again.Empty() {
		t.Errorf("second plan: %v", again.Actions())
	}
}
