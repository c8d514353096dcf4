package planner

import (
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/internal/fixture"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/render"
)

// TestFutureDatedSnapshot is issue 14 item 5: a snapshot dated in the
// future (the clock once ran ahead) stayed "newest", so no snapshot was
// planned until that date, nothing warned, and the backup age was
// negative. The plan warns and keeps the schedule; ages count from the
// newest snapshot that is not in the future.
func TestFutureDatedSnapshot(t *testing.T) {
	d := fixture.LoadHomelab(t)
	loc := fixture.Oslo(t)
	sat := time.Date(2026, 11, 21, 2, 0, 0, 0, loc)
	now := time.Date(2026, 11, 22, 3, 30, 0, 0, loc) // Sunday: daily and weekly slots passed
	o := fixture.Steady(d, sat)
	future := fixture.Snap("htpc-home", time.Date(2027, 3, 1, 2, 0, 0, 0, loc))
	st := o.Subvolumes["htpc-home"]
	st.Local = append(st.Local, future)
	st.External = append(st.External, fixture.Rep(future))

	p := Compute(d, o, now)
	var sp *model.SubvolumePlan
	for i := range p.Subvolumes {
		if p.Subvolumes[i].Name == "htpc-home" {
			sp = &p.Subvolumes[i]
		}
	}
	snapAction := fixture.Find(p, "htpc-home", model.KindSnapshot)
	if snapAction == nil || !strings.Contains(snapAction.Reason, "newest local snapshot is 25h old") {
		t.Errorf("no snapshot planned past the future-dated one: %+v", snapAction)
	}
	send := fixture.Find(p, "htpc-home", model.KindSend)
	if send == nil || snapAction == nil || send.Snapshot != snapAction.Snapshot {
		t.Errorf("the new snapshot is not sent: %+v", send)
	}
	for _, what := range []string{"snapshot", "replica"} {
		want := what + " " + future.Name + " is dated in the future (2027-03-01 02:00)"
		found := false
		for _, w := range sp.Warnings {
			found = found || strings.HasPrefix(w, want)
		}
		if !found {
			t.Errorf("no warning %q in %q", want, sp.Warnings)
		}
	}
	for _, a := range sp.Actions {
		if a.Kind == model.KindPrune && a.Snapshot == future.Name {
			t.Errorf("the future-dated snapshot is pruned: %+v", a)
		}
	}

	// A passing test of the future-dated snapshot: its verified age is 0,
	// not negative, and every age metric is >= 0.
	o.History["htpc-home"].Verified = &model.TestReport{Kind: model.KindTest, Subvolume: "htpc-home", Snapshot: future.Name,
		SnapshotTime: future.Time, Result: model.ResultPass, Started: now}
	in := RenderInput(d, o, now)
	s := in.Subvolumes["htpc-home"]
	if !s.NewestLocal.Equal(sat) || !s.NewestExternal.Equal(sat) {
		t.Errorf("ages count from %v / %v, want %v", s.NewestLocal, s.NewestExternal, sat)
	}
	metrics, err := render.Metrics(in)
	if err != nil {
		t.Fatal(err)
	}
	ages := 0
	for _, line := range strings.Split(string(metrics), "\n") {
		if strings.Contains(line, "age_seconds{") && strings.Contains(line, `"htpc-home"`) {
			ages++
			if strings.Contains(line, "} -") {
				t.Errorf("negative age: %s", line)
			}
		}
	}
	if ages != 3 {
		t.Errorf("%d age metrics for htpc-home, want local, external and verified", ages)
	}
}
