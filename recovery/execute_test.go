package recovery_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drsync/drsync/providers/dirfs"
	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/recovery"
)

// damagingClone is the real plain-directory storage whose clones get one
// byte flipped, as a bad disk would.
type damagingClone struct{ dirfs.Storage }

func (s damagingClone) Clone(ctx context.Context, snapshot, dest string) error {
	if err := s.Storage.Clone(ctx, snapshot, dest); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dest, "a.txt"), []byte("Alpha"), 0o644)
}

// TestVerificationFailureTouchesNothing: a recovered tree that differs
// from its copy never reaches the target, and the clone is removed.
func TestVerificationFailureTouchesNothing(t *testing.T) {
	dir := t.TempDir()
	src, snap := filepath.Join(dir, "src"), filepath.Join(dir, "snaps", "docs.20261122T0200")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha"), 0o644)
	st := damagingClone{}
	if err := st.Snapshot(t.Context(), src, snap); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "target", "docs")
	os.MkdirAll(filepath.Dir(target), 0o755)
	p := &recovery.Plan{Recoveries: []recovery.Recovery{{Subvolume: "docs", Snapshot: filepath.Base(snap), Location: "pool",
		Copy: snap, Base: snap, Staging: filepath.Join(dir, "target", ".docs.drsync-recover-x"),
		Target: recovery.Target{Path: target, State: recovery.TargetMissing}}}}
	j, _ := journal.OpenJournal(filepath.Join(dir, "state"))
	res, err := recovery.Execute(t.Context(), p, recovery.Env{Storage: st, Journal: j}, nil)
	if err == nil || !strings.Contains(err.Error(), "the recovered tree differs") || len(res[0].Verified.Mismatches) == 0 {
		t.Fatalf("execute: %v %+v", err, res)
	}
	if left, _ := os.ReadDir(filepath.Join(dir, "target")); len(left) != 0 {
		t.Errorf("left in the target's directory: %v", left)
	}
	entries, _ := j.Entries()
	var failed string
	for _, e := range entries {
		if e.Phase == model.PhaseFailed && e.Action.Recover != nil {
			failed = e.Action.Recover.Step
		}
	}
	if failed != string(recovery.StepVerify) {
		t.Errorf("journaled failed step %q", failed)
	}
}
