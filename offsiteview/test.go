package offsiteview

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/drsync/drsync/prove"
	"github.com/drsync/drsync/providers/s3"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/session"
)

// TestRequest names the off-site copy `drsync offsite test` proves.
type TestRequest struct {
	Target, Subvolume string
	// Identity replaces the target's age identity file ("": keep it).
	Identity string
	// SampleSize replaces the tier's (0: keep it).
	SampleSize int
}

// Test fetches the newest restorable copy of the subvolume from the target
// into its drill directory (btrfs, beside its snapshots) and proves it
// against the fetched tree and the local snapshot of the same name. What
// cannot be cleaned up afterwards is warned about on warn.
func Test(ctx context.Context, s session.Options, o TestRequest, warn io.Writer) (model.TestReport, error) {
	d, err := schema.Load(s.File, s.Tags)
	if err != nil {
		return model.TestReport{}, err
	}
	sub, ok := d.Subvolumes[o.Subvolume]
	if !ok {
		return model.TestReport{}, fmt.Errorf("no subvolume %q in %s", o.Subvolume, s.File)
	}
	if _, ok := sub.Offsite[o.Target]; !ok {
		return model.TestReport{}, fmt.Errorf("subvolume %s does not send to target %q", o.Subvolume, o.Target)
	}
	tgt, err := session.OpenTarget(d, o.Target)
	if err != nil {
		return model.TestReport{}, err
	}
	if s3t, ok := tgt.(*s3.Target); ok && o.Identity != "" {
		s3t.UseIdentity(o.Identity)
	}
	copies, err := tgt.List(ctx, o.Subvolume)
	if err != nil {
		return model.TestReport{}, err
	}
	var newest string
	for _, c := range copies {
		if c.Restorable() {
			newest = c.Name
		}
	}
	if newest == "" {
		return model.TestReport{}, fmt.Errorf("target %s holds no restorable copy of %s", o.Target, o.Subvolume)
	}
	fetch := filepath.Join(d.DrillDir(sub), "offsite-"+o.Target)
	if err := os.MkdirAll(fetch, 0o700); err != nil {
		return model.TestReport{}, err
	}
	tree, cleanup, err := tgt.Open(ctx, o.Subvolume, newest, fetch)
	if err != nil {
		return model.TestReport{}, fmt.Errorf("fetch %s from %s: %w", newest, o.Target, err)
	}
	defer func() {
		if err := cleanup(); err != nil {
			fmt.Fprintf(warn, "warning: %v\n", err)
		}
	}()
	st, err := s.NewStorage()
	if err != nil {
		return model.TestReport{}, err
	}
	size := o.SampleSize
	if size == 0 {
		size = d.Tiers[sub.Tier].RestoreTest.SampleSize
	}
	reference := filepath.Join(d.SnapshotDir(sub.Snapshots.Location, sub.Name), newest)
	if _, err := os.Lstat(reference); err != nil {
		reference = ""
	}
	return prove.New(st, d).Prove(ctx, model.TestRequest{Kind: model.KindTest, Subvolume: sub.Name, Snapshot: newest,
		Copy: tree, Location: o.Target, Reference: reference, SampleSize: size, Seed: time.Now().UnixNano() % 1e9,
		Scratch: d.Restore.Scratch}, nil)
}

// WriteTest prints an off-site copy's test: its verdict and failures.
func WriteTest(w io.Writer, rep model.TestReport) {
	fmt.Fprintf(w, "%s %s from %s: %d files verified: %s\n", rep.Subvolume, rep.Snapshot, rep.Location, rep.Files, rep.Result)
	for _, f := range rep.Failures {
		fmt.Fprintf(w, "  %s: %s\n", f.Path, f.Check)
	}
}
