package reconcile

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drsync/drsync/reconcile/internal/fixture"
	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner"
)

// payloadOf is the payload field each kind carries, and only it.
var payloadOf = map[model.Kind]string{model.KindSnapshot: "Take", model.KindBackup: "Backup", model.KindSend: "Send", model.KindRepair: "Remove",
	model.KindPrune: "Remove", model.KindTest: "Proof", model.KindDrill: "Proof", model.KindWrite: "Write"}

// Every planned action carries exactly its kind's payload, the drive it
// acts on when it acts on one, and a reason worded from its typed reason;
// its JSON reads back the same.
func TestActionsCarryOnlyTheirPayload(t *testing.T) {
	d := fixture.LoadHomelab(t)
	loc := fixture.Oslo(t)
	start := time.Date(2026, 11, 1, 2, 0, 0, 0, loc)
	seen := map[model.Kind]bool{}
	for _, days := range []int{0, 1, 8, 40, 100} {
		o := fixture.Steady(d, start)
		o.Files = map[string]string{}
		now := start.AddDate(0, 0, days).Add(90 * time.Minute)
		if days == 40 {
			o.Drives["WD-18TB"] = model.Drive{Reason: "absent"}
			o.Subvolumes["htpc-home"].External = nil
		}
		for name, st := range o.Subvolumes {
			st.Local = fixture.Daily(name, start, 20)
		}
		p := planner.Compute(d, o, now)
		if p.Version != model.PlanVersion {
			t.Errorf("plan version %d, want %d", p.Version, model.PlanVersion)
		}
		for _, a := range p.Actions() {
			seen[a.Kind] = true
			want, ok := payloadOf[a.Kind]
			if !ok {
				t.Fatalf("a kind without a payload rule: %s", a.Kind)
			}
			v := reflect.ValueOf(a)
			for _, f := range []string{"Take", "Backup", "Send", "Remove", "Proof", "Write"} {
				if set := !v.FieldByName(f).IsNil(); set != (f == want) {
					t.Errorf("%s %s: payload %s set=%v", a.Kind, a.Snapshot, f, set)
				}
			}
			if a.External != (a.Drive != nil) {
				t.Errorf("%s %s: external %v but drive %+v", a.Kind, a.Snapshot, a.External, a.Drive)
			}
			if a.Why.Code == "" || a.Reason != a.Why.Text() {
				t.Errorf("%s %s: reason %q is not its typed reason worded (%+v)", a.Kind, a.Snapshot, a.Reason, a.Why)
			}
			b, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			var back model.Action
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(a, back); diff != "" {
				t.Errorf("%s %s: JSON round trip changed it:\n%s", a.Kind, a.Snapshot, diff)
			}
		}
	}
	for _, k := range []model.Kind{model.KindSnapshot, model.KindSend, model.KindPrune, model.KindTest, model.KindDrill, model.KindWrite} {
		if !seen[k] {
			t.Errorf("no %s planned: the test covers less than it says", k)
		}
	}
}

// An action whose payload does not match its kind (a plan file edited by
// hand) fails with a clear error and runs nothing.
func TestActionWithoutItsPayloadFails(t *testing.T) {
	j, _ := journal.OpenJournal(t.TempDir())
	p := &model.Plan{Now: time.Now(), Subvolumes: []model.SubvolumePlan{{Name: "docs", Actions: []model.Action{
		{Kind: model.KindPrune, Subvolume: "docs", Location: "pool", Snapshot: "docs.20261101T0200", Path: "/nonexistent/docs.20261101T0200",
			Send: &model.SendCopy{From: "/etc"}},
	}}}}
	var failed string
	_, err := Apply(context.Background(), p, Env{Journal: j}, func(e Event) {
		if e.Phase == model.PhaseFailed {
			failed = e.Error
		}
	})
	if err == nil || !strings.Contains(failed, "carries no prune payload") {
		t.Fatalf("apply: %v, failure %q", err, failed)
	}
}
