package proofs

import (
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/internal/fixture"
	"github.com/drsync/drsync/reconcile/model"
)

// Without names a test proves every subvolume and service, a drill every
// subvolume; a name the desired state does not declare is refused.
func TestTargets(t *testing.T) {
	d := fixture.LoadHomelab(t)
	tests, err := targets(d, "homelab.cue", nil, model.KindTest)
	if err != nil || len(tests) != len(d.Subvolumes)+len(d.Services) {
		t.Fatalf("tests of %v: %v", tests, err)
	}
	drills, err := targets(d, "homelab.cue", nil, model.KindDrill)
	if err != nil || len(drills) != len(d.Subvolumes) {
		t.Fatalf("drills of %v: %v", drills, err)
	}
	_, err = targets(d, "homelab.cue", []string{"nope"}, model.KindTest)
	if err == nil || !strings.Contains(err.Error(), `--subvolume "nope": not declared in homelab.cue`) {
		t.Errorf("an undeclared name: %v", err)
	}
}

// The plan carries the seed and sample size asked for; what has nothing to
// prove is skipped with the reason, never planned.
func TestPlan(t *testing.T) {
	d := fixture.LoadHomelab(t)
	at := time.Date(2026, 11, 22, 2, 0, 0, 0, fixture.Oslo(t))
	obs := fixture.Steady(d, at)
	names := d.SubvolumeNames()
	skipped := map[string]string{}
	p := plan(d, obs, at, names, Options{Kind: model.KindTest, Seed: 42, SampleSize: 7}, skipped)
	if len(p.Subvolumes) != len(names) || len(skipped) != 0 {
		t.Fatalf("planned %d of %d, skipped %v", len(p.Subvolumes), len(names), skipped)
	}
	for _, sp := range p.Subvolumes {
		if a := sp.Actions[0]; a.Kind != model.KindTest || a.Proof.Seed != 42 || a.Proof.SampleSize != 7 || sp.Tier != d.Subvolumes[sp.Name].Tier {
			t.Errorf("%s: %+v", sp.Name, a)
		}
	}

	empty := &model.Observed{Drives: obs.Drives, Subvolumes: map[string]*model.SubvolumeState{}}
	for _, n := range names {
		empty.Subvolumes[n] = &model.SubvolumeState{}
	}
	skipped = map[string]string{}
	p = plan(d, empty, at, names[:1], Options{Kind: model.KindDrill}, skipped)
	if len(p.Subvolumes) != 0 || !strings.Contains(skipped[names[0]], "no replica on the external drive") {
		t.Errorf("a drill with nothing sent: planned %d, skipped %v", len(p.Subvolumes), skipped)
	}
}
