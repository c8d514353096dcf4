package reconcile_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drsync/drsync/internal/hostile"
	"github.com/drsync/drsync/reconcile/internal/fixture"
)

func init() { hostile.Serve() }

// hostileRig is small.cue with the local rule pruning harder than the
// drive's (docs: daily 2 locally, daily 30 on the drive), and the pool's
// snapshot directory owned by a real unprivileged user, as
// ~/.snapshots is in the first user's setup.
func hostileRig(t *testing.T) (*rig, *hostile.User) {
	t.Helper()
	src, err := os.ReadFile("../testdata/desired/small.cue")
	if err != nil {
		t.Fatal(err)
	}
	cue := strings.Replace(string(src), "retention: daily: 7", "retention: daily: 2", 1)
	cue = strings.Replace(cue, "retention: {daily: 3, weekly: 4}", "retention: daily: 30", 1)
	desired := filepath.Join(t.TempDir(), "hostile.cue")
	if err := os.WriteFile(desired, []byte(cue), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, desired)
	u := hostile.NewUser(t)
	snaps := r.d.Locations["pool"].Path
	if err := os.MkdirAll(snaps, 0o755); err != nil {
		t.Fatal(err)
	}
	hostile.Reachable(t, snaps)
	u.Own(t, snaps)
	return r, u
}

// TestSymlinkedSnapshotDirCannotPruneTheDrive is issue 11 item 1: the user
// who owns the pool's snapshot directory replaces docs' directory with a
// symlink to the drive's replicas. The local rule (daily 2) must not prune
// the drive (daily 30), nor may a new snapshot land there: the plan says
// why and touches nothing of docs.
func TestSymlinkedSnapshotDirCannotPruneTheDrive(t *testing.T) {
	r, u := hostileRig(t)
	for _, day := range []string{"2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21", "2026-11-22"} {
		r.mustApply(r.at(day + " 03:30"))
	}
	replicas := r.names("usb", "docs")
	if len(replicas) != 5 {
		t.Fatalf("the drive should hold 5 replicas of docs, holds %v", replicas)
	}
	local := r.d.SnapshotDir("pool", "docs")
	u.Sh(t, "mv "+local+" "+local+".mine && ln -s "+r.d.SnapshotDir("usb", "docs")+" "+local)

	// Half an hour later nothing is due but the prunes of what the
	// local directory now shows.
	p, _, err := r.apply(r.at("2026-11-22 04:00"))
	if err != nil {
		t.Errorf("apply: %v", err)
	}
	actions, warnings := fixture.Subvolume(p, "docs")
	if len(actions) != 0 || !strings.Contains(warnings, "symlink") {
		t.Errorf("plan for docs: actions %v, warnings %q; want none and a warning naming the symlink", actions, warnings)
	}
	if got := r.names("usb", "docs"); strings.Join(got, " ") != strings.Join(replicas, " ") {
		t.Errorf("the drive's replicas changed under a symlinked local directory: %v, was %v", got, replicas)
	}
}

// TestSnapshotDirOnAnotherFilesystemIsLeftAlone: the drive's replica
// directory mounted (bind) over the pool's snapshot directory of docs is
// on another filesystem than the pool location: reported, nothing touched.
func TestSnapshotDirOnAnotherFilesystemIsLeftAlone(t *testing.T) {
	r, _ := hostileRig(t)
	for _, day := range []string{"2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21", "2026-11-22"} {
		r.mustApply(r.at(day + " 03:30"))
	}
	replicas := r.names("usb", "docs")
	local := r.d.SnapshotDir("pool", "docs")
	if out, err := exec.Command("mount", "--bind", r.d.SnapshotDir("usb", "docs"), local).CombinedOutput(); err != nil {
		t.Fatalf("bind mount: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", local).Run() })

	// Half an hour later nothing is due but the prunes of what the
	// local directory now shows.
	p, _, err := r.apply(r.at("2026-11-22 04:00"))
	if err != nil {
		t.Errorf("apply: %v", err)
	}
	actions, warnings := fixture.Subvolume(p, "docs")
	if len(actions) != 0 || !strings.Contains(warnings, "another filesystem") {
		t.Errorf("plan for docs: actions %v, warnings %q; want none and a warning naming the other filesystem", actions, warnings)
	}
	if got := r.names("usb", "docs"); strings.Join(got, " ") != strings.Join(replicas, " ") {
		t.Errorf("the drive's replicas changed: %v, was %v", got, replicas)
	}
}

// TestModifiedReplicaIsLeftAlone is issue 11 item 2: an administrator made
// an old replica writable to copy files out of it (its local snapshot long
// pruned). No send of it was interrupted, so the next apply reports it as
// modified and deletes nothing; the files written into it survive.
func TestModifiedReplicaIsLeftAlone(t *testing.T) {
	r, _ := hostileRig(t)
	for _, day := range []string{"2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21"} {
		r.mustApply(r.at(day + " 03:30"))
	}
	oldest := r.names("usb", "docs")[0]
	if slices.Contains(r.names("pool", "docs"), oldest) {
		t.Fatalf("setup: %s should be pruned locally by daily 2", oldest)
	}
	replica := filepath.Join(r.d.SnapshotDir("usb", "docs"), oldest)
	if out, err := exec.Command("btrfs", "property", "set", "-f", replica, "ro", "false").CombinedOutput(); err != nil {
		t.Fatalf("btrfs property set: %v %s", err, out)
	}
	note := filepath.Join(replica, "copied-out.txt")
	if err := os.WriteFile(note, []byte("the administrator was here"), 0o644); err != nil {
		t.Fatal(err)
	}

	p, _, err := r.apply(r.at("2026-11-22 03:30"))
	if err != nil {
		t.Errorf("apply: %v", err)
	}
	for _, a := range p.Actions() {
		if a.Snapshot == oldest && a.Location == "usb" {
			t.Errorf("the modified replica got a %s action: %s", a.Kind, a.Reason)
		}
	}
	if _, warnings := fixture.Subvolume(p, "docs"); !strings.Contains(warnings, oldest+" on usb is modified") {
		t.Errorf("the plan does not report the modified replica: %q", warnings)
	}
	if _, err := os.Stat(note); err != nil {
		t.Errorf("the modified replica lost its files: %v", err)
	}
}

// TestSymlinkedGeneratedFileIsNotFollowed is issue 11 item 7: generated
// files often live in a user's directories. The user replaces one with a
// symlink to a root-only file; plan (text with --explain, and JSON) and the
// journal never show that file's content, apply leaves the link and the
// file alone, and the plan says why.
func TestSymlinkedGeneratedFileIsNotFollowed(t *testing.T) {
	r, u := hostileRig(t)
	rules := r.d.Generate.AlertRules
	if err := os.MkdirAll(filepath.Dir(rules), 0o755); err != nil {
		t.Fatal(err)
	}
	hostile.Reachable(t, filepath.Dir(rules))
	u.Own(t, filepath.Dir(rules))
	r.mustApply(r.at("2026-11-22 03:30"))

	const secret = "root:$6$only-root-may-read-this"
	shadow := filepath.Join(r.dir, "shadow")
	if err := os.WriteFile(shadow, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	u.Sh(t, "rm -f "+rules+" && ln -s "+shadow+" "+rules)

	p := r.plan(r.at("2026-11-22 04:00"))
	var text bytes.Buffer
	p.WriteText(&text, true)
	js, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for what, out := range map[string]string{"plan --explain": text.String(), "plan --json": string(js)} {
		if strings.Contains(out, "only-root-may-read-this") {
			t.Errorf("%s shows the root-only file", what)
		}
	}
	if !strings.Contains(text.String(), rules) || !strings.Contains(text.String(), "symlink") {
		t.Errorf("the plan does not report the symlinked generated file:\n%s", text.String())
	}
	if _, _, err := r.apply(r.at("2026-11-22 04:00")); err != nil {
		t.Errorf("apply: %v", err)
	}
	journal, err := os.ReadFile(r.j.Path())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(journal), "only-root-may-read-this") {
		t.Errorf("the journal holds the root-only file's content")
	}
	if b, _ := os.ReadFile(shadow); string(b) != secret+"\n" {
		t.Errorf("the root-only file was written: %q", b)
	}
	if target, err := os.Readlink(rules); err != nil || target != shadow {
		t.Errorf("the user's link was replaced: %q %v", target, err)
	}
}
