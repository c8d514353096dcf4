package planner

import (
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/internal/fixture"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/verify/coverage"
)

// TestFitSlice: a slice over the time a test has proposes the longest
// whole-day (under a day, whole-hour) cadence whose equal slices fit;
// without a measured rate or a budget nothing is said.
func TestFitSlice(t *testing.T) {
	const gib = 1 << 30
	const day = 24 * time.Hour
	mibps := float64(1 << 20)
	tests := []struct {
		name           string
		slice, whole   int64
		rate           float64
		budget, window time.Duration
		fits           bool
		takes, every   time.Duration
		slices         int
	}{
		{name: "fits", slice: 3 * gib, whole: 36 * gib, rate: mibps, budget: time.Hour, window: 360 * day, fits: true,
			takes: 3072 * time.Second},
		{name: "no rate measured yet", slice: 300 * gib, whole: 3600 * gib, budget: time.Hour, window: 360 * day, fits: true},
		{name: "no budget", slice: 300 * gib, whole: 3600 * gib, rate: mibps, window: 360 * day, fits: true},
		// 88 GiB at 10 MiB/s is 2.5 h; 1056 GiB in 2 h slices (70.3 GiB)
		// is 16 of them: 360d / 16 = 22.5d, so every 22d (17 slices).
		{name: "over: a whole-day cadence", slice: 88 * gib, whole: 1056 * gib, rate: 10 * mibps, budget: 2 * time.Hour, window: 360 * day,
			takes: 9011200 * time.Second / 1000, every: 22 * day, slices: 17},
		// 30 GiB in 1 h at 1 MiB/s (3.5 GiB) is 9 slices of a 7-day
		// window: 18.67 h, so every 18h (10 slices).
		{name: "over: a whole-hour cadence", slice: 10 * gib, whole: 30 * gib, rate: mibps, budget: time.Hour, window: 7 * day,
			takes: 10240 * time.Second, every: 18 * time.Hour, slices: 10},
		{name: "over: nothing of an hour or more fits", slice: 100 * gib, whole: 1000 * gib, rate: mibps, budget: time.Minute, window: 7 * day,
			takes: 102400 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fit, ok := fitSlice(tc.slice, tc.whole, tc.rate, tc.budget, tc.window)
			if ok != tc.fits || fit.Takes.Round(time.Second) != tc.takes.Round(time.Second) || fit.Every != tc.every || fit.Slices != tc.slices {
				t.Errorf("fitSlice = %+v, %v; want takes %s, every %s, %d slices, fits %v", fit, ok, tc.takes, tc.every, tc.slices, tc.fits)
			}
		})
	}
}

// TestPlanSaysWhenASliceDoesNotFit: the reason of a test whose slice,
// at the rate the copy's past slices were verified at, takes longer than
// the tier's sliceBudget says so and names a cadence that fits.
func TestPlanSaysWhenASliceDoesNotFit(t *testing.T) {
	d := fixture.LoadHomelab(t)
	loc := fixture.Oslo(t)
	const name, gib = "htpc-home", int64(1 << 30)
	s := d.Subvolumes[name]
	tier := d.Tiers[s.Tier]
	tier.RestoreTest.Coverage = &schema.Duration{Duration: 360 * 24 * time.Hour}
	tier.RestoreTest.SliceBudget = schema.Duration{Duration: 2 * time.Hour}
	d.Tiers[s.Tier] = tier
	n := tier.RestoreTest.Slices()
	now := time.Date(2026, 11, 22, 1, 0, 0, 0, loc)
	last := now.AddDate(0, 0, -1)
	o := fixture.Steady(d, last)
	h := o.History[name]
	lastTest := *h.LastTest
	lastTest.Started = now.AddDate(0, 0, -40)
	h.LastTest, h.LastPassed = &lastTest, &lastTest
	ss := o.Subvolumes[name]
	ext := s.External.Location
	cs := model.CopySlices{Location: ext, External: true, Snapshot: ss.External[0].Name, Slices: make([]coverage.SliceCount, n)}
	for k := range cs.Slices {
		cs.Slices[k] = coverage.SliceCount{Files: 1000, Bytes: 88 * gib}
	}
	ss.Coverage = []model.CopySlices{cs}
	// Slice 0 was verified 40 days ago: 10 GiB at 10 MiB/s.
	proofs := make([]*model.SliceProof, n)
	proofs[0] = &model.SliceProof{Location: ext, Snapshot: cs.Snapshot, Slice: 0, Slices: n, Verified: lastTest.Started,
		Files: 1000, Bytes: 10 * gib, Seconds: 1024, Passed: true}
	h.Coverage = map[string][]*model.SliceProof{ext: proofs}

	a := fixture.Find(Compute(d, o, now), name, model.KindTest)
	if a == nil {
		t.Fatal("no test planned")
	}
	want := "verifies slice 2 of 12: 1000 files, 88.0 GiB; about 2h30m at the 10.0 MiB/s past slices were verified at, over the tier's sliceBudget of 2h: restoreTest.every 22d fits (17 slices of about 62.1 GiB)"
	if !strings.Contains(a.Reason, want) {
		t.Errorf("reason %q\nwant it to contain %q", a.Reason, want)
	}

	// One slice holding nearly all of the copy: a shorter cadence would
	// not make it smaller.
	for k := range cs.Slices {
		if k != 1 {
			cs.Slices[k].Bytes = gib
		}
	}
	ss.Coverage = []model.CopySlices{cs}
	a = fixture.Find(Compute(d, o, now), name, model.KindTest)
	want = "over the tier's sliceBudget of 2h: it holds far more than its share of the copy's bytes, so no shorter cadence helps; raise sliceBudget"
	if a == nil || !strings.Contains(a.Reason, want) {
		t.Errorf("an uneven slice: %v\nwant a reason containing %q", a, want)
	}

	tier.RestoreTest.SliceBudget = schema.Duration{Duration: 3 * time.Hour}
	d.Tiers[s.Tier] = tier
	if a := fixture.Find(Compute(d, o, now), name, model.KindTest); a == nil || strings.Contains(a.Reason, "sliceBudget") {
		t.Errorf("a slice within the budget: %v", a)
	}
}

// TestArchiveCoverageEvidence: the copy of a service's archives its tests
// read counts whole when a passing test within the window verified its
// newest archive, and not at all for an older archive, a failed test or
// one from before the window.
func TestArchiveCoverageEvidence(t *testing.T) {
	d := fixture.LoadHomelab(t)
	const name = "grafana-db"
	svc := d.Services[name]
	tier := d.Tiers[svc.Tier]
	tier.RestoreTest.Coverage = &schema.Duration{Duration: 90 * 24 * time.Hour}
	d.Tiers[svc.Tier] = tier
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	ext := svc.External.Location
	const newest, older = name + ".20261122T0100.tar.gz", name + ".20261121T0100.tar.gz"
	st := &model.ServiceState{Coverage: []model.CopySlices{{Location: ext, External: true, Snapshot: newest,
		Slices: []coverage.SliceCount{{Files: 1, Bytes: 4096}}}}}
	proof := func(archive string, verified time.Time, passed bool) *model.History {
		return &model.History{Coverage: map[string][]*model.SliceProof{ext: {{Location: ext, Snapshot: archive, Slices: 1,
			Verified: verified, Passed: passed}}}}
	}
	tests := []struct {
		name     string
		h        *model.History
		verified bool
	}{
		{"its newest archive verified", proof(newest, now.Add(-time.Hour), true), true},
		{"nothing on record", nil, false},
		{"an older archive verified", proof(older, now.Add(-time.Hour), true), false},
		{"the newest archive failed", proof(newest, now.Add(-time.Hour), false), false},
		{"verified before the window", proof(newest, now.AddDate(0, 0, -91), true), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ArchiveCoverageEvidence(d, name, st, tc.h, now)
			if len(got) != 1 || got[0].Location != ext || !got[0].External || got[0].Files != 1 || got[0].Bytes != 4096 {
				t.Fatalf("evidence %+v, want the one copy on %s of 1 file, 4096 bytes", got, ext)
			}
			if verified := got[0].VerifiedFiles == 1 && got[0].VerifiedBytes == 4096; verified != tc.verified {
				t.Errorf("verified %+v, want %v", got[0], tc.verified)
			}
		})
	}
}
