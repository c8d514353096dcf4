package planner

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/internal/fixture"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
	"github.com/drsync/drsync/target"
)

// Off-site tests and drills are planned on each target's own cadence,
// from its own history, of the copy the target holds (or the one this
// plan sends there); an unreachable target defers them with a warning.
func TestComputeOffsiteProofs(t *testing.T) {
	loc := fixture.Oslo(t)
	saturday := time.Date(2026, 11, 21, 2, 0, 0, 0, loc)
	satNow := time.Date(2026, 11, 21, 5, 30, 0, 0, loc) // no S3 slot today
	sunday := time.Date(2026, 11, 22, 2, 0, 0, 0, loc)
	sunNow := time.Date(2026, 11, 22, 5, 30, 0, 0, loc) // just after the weekly S3 slot
	onS3 := fixture.Snap("htpc-home", time.Date(2026, 11, 15, 2, 0, 0, 0, loc)).Name
	chainOf := func(names ...string) *model.OffsiteCopies {
		m := target.Manifest{Version: target.ManifestVersion, Subvolume: "htpc-home", Chain: names[0], Encrypted: true}
		for i, n := range names {
			s := target.Stream{Seq: i, Snapshot: n, Key: "k" + n, Size: 1}
			if i > 0 {
				s.Parent = names[i-1]
			}
			m.Streams = append(m.Streams, s)
		}
		chains := []target.Chain{{Name: names[0], Manifest: m, Restorable: len(names)}}
		return &model.OffsiteCopies{Chains: chains, Copies: target.Copies(chains)}
	}
	report := func(kind model.Kind, result model.Result, ago time.Duration, now time.Time) *model.TestReport {
		return &model.TestReport{Kind: kind, Subvolume: "htpc-home", Snapshot: onS3, Location: "s3-secondary", Result: result, Started: now.Add(-ago)}
	}
	day := 24 * time.Hour
	type got struct {
		Kind     model.Kind
		Snapshot string
	}
	tests := []struct {
		name    string
		now     time.Time
		edit    func(d *schema.Desired, o *model.Observed)
		want    []got
		reason  string // in the test's reason
		warning string
		ref     bool // the test compares with the local snapshot
	}{{
		name:   "never proven off-site: a test and a drill of the copy there, whatever the local history says",
		now:    satNow,
		want:   []got{{model.KindOffsiteTest, onS3}, {model.KindOffsiteDrill, onS3}},
		reason: "never tested; tier 1 wants one every 30d",
	}, {
		name: "the local snapshot of the same name is the reference",
		now:  satNow,
		edit: func(_ *schema.Desired, o *model.Observed) {
			st := o.Subvolumes["htpc-home"]
			st.Local = append([]model.Snapshot{fixture.Snap("htpc-home", time.Date(2026, 11, 15, 2, 0, 0, 0, loc))}, st.Local...)
		},
		want: []got{{model.KindOffsiteTest, onS3}, {model.KindOffsiteDrill, onS3}},
		ref:  true,
	}, {
		name: "passed within the cadence: nothing due",
		now:  satNow,
		edit: func(_ *schema.Desired, o *model.Observed) {
			h := o.History["htpc-home"].TargetHistory("s3-secondary")
			h.LastTest, h.LastPassed = report(model.KindTest, model.ResultPass, 10*day, satNow), report(model.KindTest, model.ResultPass, 10*day, satNow)
			h.LastDrill, h.LastPassedDrill = report(model.KindDrill, model.ResultPass, 10*day, satNow), report(model.KindDrill, model.ResultPass, 10*day, satNow)
			o.History["htpc-home"].Offsite = map[string]*model.History{"s3-secondary": h}
		},
	}, {
		name: "the test passed 31 days ago: due again, the drill not",
		now:  satNow,
		edit: func(_ *schema.Desired, o *model.Observed) {
			h := &model.History{LastTest: report(model.KindTest, model.ResultPass, 31*day, satNow), LastPassed: report(model.KindTest, model.ResultPass, 31*day, satNow),
				LastDrill: report(model.KindDrill, model.ResultPass, 31*day, satNow), LastPassedDrill: report(model.KindDrill, model.ResultPass, 31*day, satNow)}
			o.History["htpc-home"].Offsite = map[string]*model.History{"s3-secondary": h}
		},
		want:   []got{{model.KindOffsiteTest, onS3}},
		reason: "last passed 31d ago; tier 1 wants one every 30d",
	}, {
		name: "failed two hours ago: retried at most daily, kept in view by a warning",
		now:  satNow,
		edit: func(_ *schema.Desired, o *model.Observed) {
			h := &model.History{LastTest: report(model.KindTest, model.ResultFail, 2*time.Hour, satNow),
				LastDrill: report(model.KindDrill, model.ResultPass, day, satNow), LastPassedDrill: report(model.KindDrill, model.ResultPass, day, satNow)}
			o.History["htpc-home"].Offsite = map[string]*model.History{"s3-secondary": h}
		},
		warning: "off-site restore test of " + onS3 + " on s3-secondary FAILED 2h ago",
	}, {
		name: "a cadence declared on the off-site entry is the one that counts",
		now:  satNow,
		edit: func(d *schema.Desired, o *model.Observed) {
			sends := d.Subvolumes["htpc-home"].Offsite["s3-secondary"]
			sends.RestoreTest = &schema.OffsiteProof{Every: schema.Duration{Duration: 7 * day}}
			sends.Drill = &schema.OffsiteProof{Every: schema.Duration{Duration: 365 * day}}
			d.Subvolumes["htpc-home"].Offsite["s3-secondary"] = sends
			h := &model.History{LastTest: report(model.KindTest, model.ResultPass, 8*day, satNow), LastPassed: report(model.KindTest, model.ResultPass, 8*day, satNow),
				LastDrill: report(model.KindDrill, model.ResultPass, 100*day, satNow), LastPassedDrill: report(model.KindDrill, model.ResultPass, 100*day, satNow)}
			o.History["htpc-home"].Offsite = map[string]*model.History{"s3-secondary": h}
		},
		want:   []got{{model.KindOffsiteTest, onS3}},
		reason: "its copies on s3-secondary want one every 1w",
	}, {
		name: "unreachable: deferred with a warning, not an error",
		now:  satNow,
		edit: func(_ *schema.Desired, o *model.Observed) {
			o.Offsite["s3-secondary"] = &model.OffsiteState{Unreachable: "dial tcp: connection refused"}
		},
		warning: "off-site restore test of htpc-home on s3-secondary due but deferred: the target is unreachable",
	}, {
		name: "nothing there yet: a warning",
		now:  satNow,
		edit: func(_ *schema.Desired, o *model.Observed) {
			o.Offsite["s3-secondary"].Subvolumes["htpc-home"] = &model.OffsiteCopies{}
		},
		warning: "holds no restorable copy yet",
	}, {
		name: "a send planned now: its snapshot is what the test reads",
		now:  sunNow,
		want: []got{{model.KindOffsiteTest, fixture.Snap("htpc-home", sunday).Name}, {model.KindOffsiteDrill, fixture.Snap("htpc-home", sunday).Name}},
		ref:  true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := fixture.LoadHomelab(t)
			o := fixture.Steady(d, saturday)
			if tt.now.Equal(sunNow) {
				o = fixture.Steady(d, sunday)
			}
			o.Offsite = map[string]*model.OffsiteState{"s3-secondary": {Subvolumes: map[string]*model.OffsiteCopies{"htpc-home": chainOf(onS3)}}}
			if tt.edit != nil {
				tt.edit(d, o)
			}
			p := Compute(d, o, tt.now)
			var gots []got
			var test *model.Action
			for _, a := range p.Actions() {
				if a.Subvolume == "htpc-home" && (a.Kind == model.KindOffsiteTest || a.Kind == model.KindOffsiteDrill) {
					gots = append(gots, got{a.Kind, a.Snapshot})
					if a.Kind == model.KindOffsiteTest {
						a := a
						test = &a
					}
					if a.Location != "s3-secondary" || a.Offsite == nil || a.Offsite.Target != "s3-secondary" || a.Proof == nil || a.Proof.SnapshotTime.IsZero() {
						t.Errorf("%s: location %q, payload %+v %+v", a.Kind, a.Location, a.Offsite, a.Proof)
					}
					if a.Kind == model.KindOffsiteDrill && a.Proof.RTOTarget.Duration != 30*time.Minute {
						t.Errorf("drill's RTO target %v, want htpc-home's 30m", a.Proof.RTOTarget)
					}
				}
			}
			if !slices.Equal(gots, tt.want) {
				t.Errorf("off-site proofs %v, want %v", gots, tt.want)
			}
			if tt.reason != "" && (test == nil || !strings.Contains(test.Reason, tt.reason)) {
				t.Errorf("test reason %+v, want %q", test, tt.reason)
			}
			if test != nil && (test.Proof.Reference != "") != tt.ref {
				t.Errorf("reference %q, want one: %v", test.Proof.Reference, tt.ref)
			}
			var warnings []string
			for _, sp := range p.Subvolumes {
				if sp.Name == "htpc-home" {
					warnings = sp.Warnings
				}
			}
			if tt.warning != "" && !strings.Contains(strings.Join(warnings, "\n"), tt.warning) {
				t.Errorf("warnings %q, want %q", warnings, tt.warning)
			}
		})
	}
}

// A service's newest archive on S3 is restore-tested on the tier's
// cadence, read through the service's own verification.
func TestComputeServiceOffsiteProofs(t *testing.T) {
	d := fixture.LoadHomelab(t)
	loc := fixture.Oslo(t)
	now := time.Date(2026, 11, 21, 5, 30, 0, 0, loc)
	o := fixture.Steady(d, time.Date(2026, 11, 21, 2, 0, 0, 0, loc))
	newest := snapname.Format("grafana-db", time.Date(2026, 11, 21, 1, 0, 0, 0, loc)) + model.ArchiveSuffix
	older := snapname.Format("grafana-db", time.Date(2026, 11, 20, 1, 0, 0, 0, loc)) + model.ArchiveSuffix
	o.Services = map[string]*model.ServiceState{"grafana-db": {Archives: []model.Snapshot{{Name: newest, Time: time.Date(2026, 11, 21, 1, 0, 0, 0, loc), HasTime: true}}}}
	o.Offsite = map[string]*model.OffsiteState{"s3-secondary": {Subvolumes: map[string]*model.OffsiteCopies{},
		Services: map[string]*model.OffsiteCopies{"grafana-db": {Copies: []target.Copy{{Name: newest, Complete: true}, {Name: older, Complete: true}}}}}}
	p := Compute(d, o, now)
	a := fixture.Find(p, "grafana-db", model.KindOffsiteTest)
	if a == nil {
		t.Fatalf("no off-site test of grafana-db: %+v", p.Actions())
	}
	if a.Snapshot != newest || a.Offsite == nil || !a.Offsite.Archive || a.Proof == nil || a.Proof.Service == nil || a.Proof.Service.Name != "grafana-db" {
		t.Errorf("test %+v %+v %+v: want the newest archive, as an archive of grafana-db", a, a.Offsite, a.Proof)
	}
	if !strings.Contains(a.Reason, "never tested") {
		t.Errorf("reason %q", a.Reason)
	}
}
