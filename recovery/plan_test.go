package recovery

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

func testDesired() *schema.Desired {
	return &schema.Desired{
		Locations: map[string]schema.Location{
			"pool": {Path: "/pool/.snapshots"},
			"usb":  {Path: "/usb/.snapshots", Mount: "/usb", External: true},
			"home": {Path: "/home/patriark/.snapshots"},
		},
		Subvolumes: map[string]*schema.Subvolume{
			"docs": {Name: "docs", Source: "/pool/docs", Snapshots: schema.Replication{Location: "pool"},
				External: &schema.Replication{Location: "usb"}},
			"root": {Name: "root", Source: "/", Snapshots: schema.Replication{Location: "pool"},
				External: &schema.Replication{Location: "usb"}},
			// Its snapshot directory lies inside its source, as in the homelab example.
			"home": {Name: "home", Source: "/home", Snapshots: schema.Replication{Location: "home"},
				External: &schema.Replication{Location: "usb"}},
		},
		Services: map[string]*schema.Service{"grafana": {Name: "grafana"}},
	}
}

func snap(name string, t time.Time) model.Snapshot {
	return model.Snapshot{Name: name, Time: t, HasTime: true, UUID: "u-" + name, ReadOnly: true, ReceivedUUID: "r-" + name}
}

func TestCompute(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 11, d, 2, 0, 0, 0, time.UTC) }
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	d := testDesired()
	// Local: the 20th and 21st; drive: the 19th to the 21st; verified: the 19th and 20th.
	obs := &model.Observed{Subvolumes: map[string]*model.SubvolumeState{
		"docs": {
			Local:    []model.Snapshot{snap("docs.20261120T0200", day(20)), snap("docs.20261121T0200", day(21))},
			External: []model.Snapshot{snap("docs.20261119T0200", day(19)), snap("docs.20261120T0200", day(20)), snap("docs.20261121T0200", day(21))},
		},
		"root": {External: []model.Snapshot{snap("root.20261121T0200", day(21))}},
		"home": {External: []model.Snapshot{snap("home.20261121T0200", day(21))}},
	}}
	verified := Verified{"docs": {"docs.20261119T0200": day(19).Add(time.Hour), "docs.20261120T0200": day(20).Add(time.Hour)},
		"root": {"root.20261121T0200": day(21).Add(time.Hour)}, "home": {"home.20261121T0200": day(21).Add(time.Hour)}}
	missing := map[string]Target{"/pool/docs": {Path: "/pool/docs", State: TargetMissing}, "/mnt/new/root": {Path: "/mnt/new/root", State: TargetMissing},
		"/home": {Path: "/home", State: TargetMissing}}
	tests := []struct {
		name    string
		req     Request
		targets map[string]Target
		// verified replaces the verified snapshots when set.
		verified Verified
		want     Recovery
		wantErr  string
	}{
		{name: "newest verified, local, missing source", req: Request{Names: []string{"docs"}}, want: Recovery{
			Subvolume: "docs", Snapshot: "docs.20261120T0200", SnapshotTime: day(20),
			Choice: Choice{Rule: RuleNewestVerified, Verified: day(20).Add(time.Hour)}, Location: "pool",
			Copy: "/pool/.snapshots/docs/docs.20261120T0200", Base: "/pool/.snapshots/docs/docs.20261120T0200",
			Staging: "/pool/.docs.drsync-recover-20261122T090000", Target: Target{Path: "/pool/docs", State: TargetMissing}}},
		{name: "--at picks the newest verified at or before, from the drive", req: Request{Names: []string{"docs"}, At: day(19).Add(12 * time.Hour)}, want: Recovery{
			Subvolume: "docs", Snapshot: "docs.20261119T0200", SnapshotTime: day(19),
			Choice: Choice{Rule: RuleAt, At: day(19).Add(12 * time.Hour), Verified: day(19).Add(time.Hour)}, Location: "usb", External: true,
			Copy: "/usb/.snapshots/docs/docs.20261119T0200", Receive: "/pool/.snapshots/docs/docs.20261119T0200",
			Base: "/pool/.snapshots/docs/docs.20261119T0200", Staging: "/pool/.docs.drsync-recover-20261122T090000",
			Target: Target{Path: "/pool/docs", State: TargetMissing}}},
		{name: "--from an unverified snapshot warns; a source with data is kept aside", req: Request{Names: []string{"docs"}, From: "docs.20261121T0200"},
			targets: map[string]Target{"/pool/docs": {Path: "/pool/docs", State: TargetData, Subvolume: true}}, want: Recovery{
				Subvolume: "docs", Snapshot: "docs.20261121T0200", SnapshotTime: day(21), Choice: Choice{Rule: RuleFrom}, Location: "pool",
				Copy: "/pool/.snapshots/docs/docs.20261121T0200", Base: "/pool/.snapshots/docs/docs.20261121T0200",
				Staging: "/pool/.docs.drsync-recover-20261122T090000", Target: Target{Path: "/pool/docs", State: TargetData, Subvolume: true},
				KeepAside: "/pool/.snapshots/docs/docs.pre-recover-20261122T090000",
				Warnings:  []string{"docs.20261121T0200 was never verified by a restore test or drill (or its newest one failed)"}}},
		{name: "/ into a mounted new root", req: Request{Names: []string{"root"}, To: "/mnt/new"}, want: Recovery{
			Subvolume: "root", Snapshot: "root.20261121T0200", SnapshotTime: day(21),
			Choice: Choice{Rule: RuleNewestVerified, Verified: day(21).Add(time.Hour)}, Location: "usb", External: true,
			Copy: "/usb/.snapshots/root/root.20261121T0200", Receive: "/mnt/new/root.20261121T0200", Base: "/mnt/new/root.20261121T0200",
			Staging: "/mnt/new/.root.drsync-recover-20261122T090000", Target: Target{Path: "/mnt/new/root", State: TargetMissing},
			Warnings: []string{"make /mnt/new/root the new root's default subvolume (btrfs subvolume set-default) or name it in fstab before booting it"}}},
		{name: "snapshot directory inside the source: received beside it, moved in after", req: Request{Names: []string{"home"}}, want: Recovery{
			Subvolume: "home", Snapshot: "home.20261121T0200", SnapshotTime: day(21),
			Choice: Choice{Rule: RuleNewestVerified, Verified: day(21).Add(time.Hour)}, Location: "usb", External: true,
			Copy: "/usb/.snapshots/home/home.20261121T0200", Receive: "/.home.drsync-recover-20261122T090000.received/home.20261121T0200",
			SnapshotHome: "/home/patriark/.snapshots/home/home.20261121T0200", Base: "/.home.drsync-recover-20261122T090000.received/home.20261121T0200",
			Staging: "/.home.drsync-recover-20261122T090000", Target: Target{Path: "/home", State: TargetMissing}}},
		{name: "snapshot directory inside a source holding data", req: Request{Names: []string{"home"}},
			targets: map[string]Target{"/home": {Path: "/home", State: TargetData, Subvolume: true}},
			wantErr: "its snapshot directory /home/patriark/.snapshots/home lies inside it, so it cannot be kept aside there: move it away by hand (mv /home /home.old)"},
		{name: "nothing verified before --at", req: Request{Names: []string{"docs"}, At: day(19)}, verified: Verified{"docs": {"docs.20261121T0200": day(21)}},
			wantErr: "recover docs: no copy at or before 2026-11-19 02:00 was verified by a restore test or drill; the newest is docs.20261119T0200"},
		{name: "nothing at all before --at", req: Request{Names: []string{"docs"}, At: day(18)},
			wantErr: "recover docs: no copy at or before 2026-11-18 02:00 (oldest: docs.20261119T0200)"},
		{name: "unknown --from", req: Request{Names: []string{"docs"}, From: "docs.20200101"}, wantErr: "--from docs.20200101: no such snapshot"},
		{name: "--from with two names", req: Request{Names: []string{"docs", "root"}, From: "docs.20261121T0200"}, wantErr: "--from names one snapshot"},
		{name: "a service without an archive", req: Request{Names: []string{"grafana"}}, wantErr: "recover grafana: no archive to recover from"},
		{name: "/ without --to is refused before anything is done", req: Request{Names: []string{"root"}},
			targets: map[string]Target{"/": {Path: "/", State: TargetData, Subvolume: true}},
			wantErr: "recover root: its source is / , the running system's root, which cannot be swapped under it: from a live system, mount the new root filesystem and recover into it with --to DIR"},
		{name: "a plain directory with data", req: Request{Names: []string{"docs"}},
			targets: map[string]Target{"/pool/docs": {Path: "/pool/docs", State: TargetPlainData}}, wantErr: "cannot be kept aside as a snapshot"},
		{name: "a symlink", req: Request{Names: []string{"docs"}},
			targets: map[string]Target{"/pool/docs": {Path: "/pool/docs", State: TargetSymlink}}, wantErr: "is a symlink; drsync never follows"},
		{name: "--to that holds data", req: Request{Names: []string{"root"}, To: "/mnt/new"},
			targets: map[string]Target{"/mnt/new/root": {Path: "/mnt/new/root", State: TargetData, Subvolume: true}}, wantErr: "holds data; choose an empty --to"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Now = now
			targets := tc.targets
			if targets == nil {
				targets = missing
			}
			v := verified
			if tc.verified != nil {
				v = tc.verified
			}
			p, err := Compute(Input{Desired: d, Observed: obs, Verified: v, Targets: targets}, tc.req)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]Recovery{tc.want}, p.Recoveries); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// A snapshot whose newest test failed is not verified, whatever passed before.
func TestVerifiedFrom(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 11, 22, h, 0, 0, 0, time.UTC) }
	report := func(snap, result string, h int) model.JournalEntry {
		return model.JournalEntry{Report: &model.TestReport{Subvolume: "docs", Snapshot: snap, Result: result, Started: at(h)}}
	}
	got := VerifiedFrom([]model.JournalEntry{
		report("docs.a", model.ResultPass, 1), report("docs.a", model.ResultFail, 2),
		report("docs.b", model.ResultFail, 3), report("docs.b", model.ResultPass, 4), report("docs.b", model.ResultSkip, 5),
		report("docs.c", model.ResultSkip, 6),
	})
	want := Verified{"docs": {"docs.b": at(4)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
