package recovery

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// Runbook DR-004: the machine and the drive are gone; the off-site copies
// are the candidates.
func TestComputeOffsite(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 11, d, 2, 0, 0, 0, time.UTC) }
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	d := testDesired()
	for _, name := range []string{"docs", "home"} {
		d.Subvolumes[name].Offsite = map[string]schema.OffsiteSends{"s3": {}, "host": {}}
	}
	lost := &model.Observed{Subvolumes: map[string]*model.SubvolumeState{"docs": {}, "home": {}, "root": {}}}
	// docs still has one local snapshot, the 20th.
	partial := &model.Observed{Subvolumes: map[string]*model.SubvolumeState{
		"docs": {Local: []model.Snapshot{snap("docs.20261120T0200", day(20))}}, "home": {}, "root": {}}}
	offsite := OffsiteCopies{
		"docs": {{Target: "host", Name: "docs.20261119T0200", Time: day(19)}, {Target: "host", Name: "docs.20261121T0200", Time: day(21)},
			{Target: "s3", Name: "docs.20261120T0200", Time: day(20)}, {Target: "s3", Name: "docs.20261121T0200", Time: day(21)}},
		"home": {{Target: "s3", Name: "home.20261121T0200", Time: day(21)}},
	}
	missing := map[string]Target{"/pool/docs": {Path: "/pool/docs", State: TargetMissing}, "/home": {Path: "/home", State: TargetMissing},
		"/mnt/new/root": {Path: "/mnt/new/root", State: TargetMissing}}
	tests := []struct {
		name     string
		obs      *model.Observed
		req      Request
		verified Verified
		want     Recovery
		wantErr  string
	}{
		{name: "newest verified off-site copy, received into the snapshot directory", obs: lost, req: Request{Names: []string{"docs"}},
			verified: Verified{"docs": {"docs.20261120T0200": day(20).Add(time.Hour)}}, want: Recovery{
				Subvolume: "docs", Snapshot: "docs.20261120T0200", SnapshotTime: day(20),
				Choice: Choice{Rule: RuleNewestVerified, Verified: day(20).Add(time.Hour)}, Location: "s3", Offsite: "s3",
				Copy: "s3:docs/docs.20261120T0200", Receive: "/pool/.snapshots/docs/docs.20261120T0200",
				Base: "/pool/.snapshots/docs/docs.20261120T0200", Staging: "/pool/.docs.drsync-recover-20261122T090000",
				Target: Target{Path: "/pool/docs", State: TargetMissing}}},
		{name: "none verified: the newest complete with --allow-unverified, warned", obs: lost, req: Request{Names: []string{"docs"}, AllowUnverified: true},
			want: Recovery{
				Subvolume: "docs", Snapshot: "docs.20261121T0200", SnapshotTime: day(21),
				Choice: Choice{Rule: RuleNewestComplete}, Location: "host", Offsite: "host",
				Copy: "host:docs/docs.20261121T0200", Receive: "/pool/.snapshots/docs/docs.20261121T0200",
				Base: "/pool/.snapshots/docs/docs.20261121T0200", Staging: "/pool/.docs.drsync-recover-20261122T090000",
				Target:   Target{Path: "/pool/docs", State: TargetMissing},
				Warnings: []string{"docs.20261121T0200 on host is not known verified (no test or drill of it is in the journal): the streams' SHA-256s and age's authentication are checked as it is fetched, and the recovered tree is compared with what was received"}}},
		{name: "none verified, not allowed: refused, naming the flag", obs: lost, req: Request{Names: []string{"docs"}},
			wantErr: "recover docs: no copy was verified by a restore test or drill (the journal holds no evidence for them); the newest is docs.20261121T0200 on host: recover it with --allow-unverified"},
		{name: "--from-target takes that target's copies only", obs: lost, req: Request{Names: []string{"docs"}, FromTarget: "s3", AllowUnverified: true},
			want: Recovery{
				Subvolume: "docs", Snapshot: "docs.20261121T0200", SnapshotTime: day(21),
				Choice: Choice{Rule: RuleNewestComplete}, Location: "s3", Offsite: "s3",
				Copy: "s3:docs/docs.20261121T0200", Receive: "/pool/.snapshots/docs/docs.20261121T0200",
				Base: "/pool/.snapshots/docs/docs.20261121T0200", Staging: "/pool/.docs.drsync-recover-20261122T090000",
				Target:   Target{Path: "/pool/docs", State: TargetMissing},
				Warnings: []string{"docs.20261121T0200 on s3 is not known verified (no test or drill of it is in the journal): the streams' SHA-256s and age's authentication are checked as it is fetched, and the recovered tree is compared with what was received"}}},
		{name: "a local snapshot is preferred to the off-site copy of the same snapshot", obs: partial, req: Request{Names: []string{"docs"}},
			verified: Verified{"docs": {"docs.20261120T0200": day(20)}}, want: Recovery{
				Subvolume: "docs", Snapshot: "docs.20261120T0200", SnapshotTime: day(20),
				Choice: Choice{Rule: RuleNewestVerified, Verified: day(20)}, Location: "pool",
				Copy: "/pool/.snapshots/docs/docs.20261120T0200", Base: "/pool/.snapshots/docs/docs.20261120T0200",
				Staging: "/pool/.docs.drsync-recover-20261122T090000", Target: Target{Path: "/pool/docs", State: TargetMissing}}},
		{name: "a verified local snapshot does not hide a newer verified off-site copy", obs: partial, req: Request{Names: []string{"docs"}},
			verified: Verified{"docs": {"docs.20261120T0200": day(20), "docs.20261121T0200": day(21)}}, want: Recovery{
				Subvolume: "docs", Snapshot: "docs.20261121T0200", SnapshotTime: day(21),
				Choice: Choice{Rule: RuleNewestVerified, Verified: day(21)}, Location: "host", Offsite: "host",
				Copy: "host:docs/docs.20261121T0200", Receive: "/pool/.snapshots/docs/docs.20261121T0200",
				Base: "/pool/.snapshots/docs/docs.20261121T0200", Staging: "/pool/.docs.drsync-recover-20261122T090000",
				Target: Target{Path: "/pool/docs", State: TargetMissing}}},
		{name: "snapshot directory inside the source: fetched beside it, moved in after", obs: lost,
			req: Request{Names: []string{"home"}, FromTarget: "s3", AllowUnverified: true}, want: Recovery{
				Subvolume: "home", Snapshot: "home.20261121T0200", SnapshotTime: day(21),
				Choice: Choice{Rule: RuleNewestComplete}, Location: "s3", Offsite: "s3", Copy: "s3:home/home.20261121T0200",
				Receive:      "/.home.drsync-recover-20261122T090000.received/home.20261121T0200",
				SnapshotHome: "/home/patriark/.snapshots/home/home.20261121T0200",
				Base:         "/.home.drsync-recover-20261122T090000.received/home.20261121T0200",
				Staging:      "/.home.drsync-recover-20261122T090000", Target: Target{Path: "/home", State: TargetMissing},
				Warnings: []string{"home.20261121T0200 on s3 is not known verified (no test or drill of it is in the journal): the streams' SHA-256s and age's authentication are checked as it is fetched, and the recovered tree is compared with what was received"}}},
		{name: "--from-target a target the subvolume does not use", obs: lost, req: Request{Names: []string{"docs"}, FromTarget: "tape"},
			wantErr: "--from-target tape: docs is not sent to that target (its targets: [host s3])"},
		{name: "--from-target holding nothing", obs: lost, req: Request{Names: []string{"home"}, FromTarget: "host"},
			wantErr: "--from-target host holds no restorable copy of home"},
		{name: "nothing anywhere", obs: lost, req: Request{Names: []string{"root"}, To: "/mnt/new"},
			wantErr: "no copy to recover from: no local snapshot, no replica on a present drive, and no off-site copy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Now = now
			p, err := Compute(Input{Desired: d, Observed: tc.obs, Verified: tc.verified, Offsite: offsite, Targets: missing}, tc.req)
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

func TestNeedsOffsite(t *testing.T) {
	d := testDesired()
	d.Subvolumes["docs"].Offsite = map[string]schema.OffsiteSends{"s3": {}}
	obs := &model.Observed{Subvolumes: map[string]*model.SubvolumeState{
		"docs": {}, "root": {}, "home": {Local: []model.Snapshot{snap("home.20261121T0200", time.Now())}}}}
	for _, tc := range []struct {
		name string
		req  Request
		want bool
	}{
		{"docs", Request{}, true},                    // nothing local, nothing on the drive
		{"root", Request{}, false},                   // no off-site target declared
		{"docs", Request{FromTarget: "s3"}, true},    // asked for
		{"home", Request{FromTarget: "s3"}, false},   // sends nowhere off-site
		{"nosuch", Request{FromTarget: "s3"}, false}, // Compute reports it
	} {
		if got := NeedsOffsite(d, obs, tc.name, tc.req); got != tc.want {
			t.Errorf("NeedsOffsite(%s, %+v) = %v, want %v", tc.name, tc.req, got, tc.want)
		}
	}
}

// A service's archive on an S3 target: fetched into the archive directory
// first, then restored like a local archive (the plan's text is checked
// end to end in cmd/drsync's TestRecoverServiceFromTarget).
func TestComputeServiceOffsite(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 11, d, 1, 0, 0, 0, time.UTC) }
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	d := pitDesired()
	db := d.Services["grafana-db"]
	db.Offsite = map[string]schema.OffsiteCopies{"s3": {}}
	archive := func(n int) string { return "grafana-db." + day(n).Format("20060102T1504") + ".tar.gz" }
	lost := &model.Observed{Services: map[string]*model.ServiceState{"grafana-db": {}}}
	partial := &model.Observed{Services: map[string]*model.ServiceState{"grafana-db": {
		Archives: []model.Snapshot{{Name: archive(21), Time: day(21), HasTime: true}}}}}
	remote := OffsiteCopies{"grafana-db": {{Target: "s3", Name: archive(20), Time: day(20)}, {Target: "s3", Name: archive(21), Time: day(21)}}}
	targets := map[string]Target{"/srv/grafana/grafana.db": {Path: "/srv/grafana/grafana.db", State: TargetData}}
	fetched := func(n int) ServiceRecovery {
		return ServiceRecovery{Service: "grafana-db", Kind: "sqlite", Archive: archive(n), ArchiveTime: day(n), Location: "s3", Offsite: "s3",
			Copy: "/var/backups/grafana-db/" + archive(n), Stop: db.Stop, Start: db.Start, Declared: db,
			Targets: []ServiceTarget{{Path: "/srv/grafana/grafana.db", State: TargetData, KeepAside: "/srv/grafana/grafana.db.pre-recover-20261122T090000"}}}
	}
	unverified := fetched(21)
	unverified.Choice = Choice{Rule: RuleNewestComplete}
	unverified.Warnings = []string{archive(21) + " on s3 is not known verified (no test of it is in the journal): " +
		"the stored object's SHA-256, age's authentication and the archive's own checksums are checked as it is fetched and restored"}
	verified := fetched(20)
	verified.Choice = Choice{Rule: RuleNewestVerified, Verified: day(20).Add(time.Hour)}
	for _, tc := range []struct {
		name     string
		obs      *model.Observed
		req      Request
		verified Verified
		want     ServiceRecovery
		wantErr  string
	}{
		{name: "total loss: the newest complete archive with --allow-unverified", obs: lost,
			req: Request{Names: []string{"grafana-db"}, FromTarget: "s3", AllowUnverified: true}, want: unverified},
		{name: "the newest verified archive on the target", obs: lost, req: Request{Names: []string{"grafana-db"}},
			verified: Verified{"grafana-db": {archive(20): day(20).Add(time.Hour)}}, want: verified},
		{name: "--from-target when the archive is here already", obs: partial,
			req:     Request{Names: []string{"grafana-db"}, FromTarget: "s3", AllowUnverified: true},
			wantErr: "--from-target s3: " + archive(21) + " is here already (/var/backups/grafana-db/" + archive(21) + "): recover it without --from-target"},
		{name: "--from-target a target the service does not upload to", obs: lost, req: Request{Names: []string{"grafana-db"}, FromTarget: "host"},
			wantErr: "--from-target host: grafana-db is not sent to that target (its targets: [s3])"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Now = now
			p, err := Compute(Input{Desired: d, Observed: tc.obs, Verified: tc.verified, Offsite: remote, Targets: targets}, tc.req)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]ServiceRecovery{tc.want}, p.Services); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
