package planner

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/internal/fixture"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/target"
)

// The off-site actions as Compute plans them from an observation of the
// homelab example's S3 secondary (every subvolume sends to it weekly).
func TestComputeOffsite(t *testing.T) {
	d := fixture.LoadHomelab(t)
	loc := fixture.Oslo(t)
	sunday := time.Date(2026, 11, 22, 2, 0, 0, 0, loc) // a Sunday; the S3 slot is 05:00
	now := time.Date(2026, 11, 22, 5, 30, 0, 0, loc)
	o := fixture.Steady(d, sunday)
	emptyTarget := func() *model.OffsiteState {
		st := &model.OffsiteState{Subvolumes: map[string]*model.OffsiteCopies{}}
		for _, sv := range d.SubvolumeNames() {
			st.Subvolumes[sv] = &model.OffsiteCopies{}
		}
		return st
	}

	t.Run("an observation without targets plans nothing off-site", func(t *testing.T) {
		p := Compute(d, o, now)
		if n := fixture.CountKind(p, "htpc-home", model.KindOffsiteSend); n != 0 {
			t.Errorf("%d off-site sends without an observation of the target", n)
		}
	})

	t.Run("a reachable empty bucket gets a full stream per subvolume", func(t *testing.T) {
		o.Offsite = map[string]*model.OffsiteState{"s3-secondary": emptyTarget()}
		p := Compute(d, o, now)
		for _, sv := range d.SubvolumeNames() {
			a := fixture.Find(p, sv, model.KindOffsiteSend)
			if a == nil {
				t.Fatalf("%s: no off-site send", sv)
			}
			want := fixture.Snap(sv, sunday).Name
			if taken := fixture.Find(p, sv, model.KindSnapshot); taken != nil {
				want = taken.Snapshot // the snapshot this plan takes is the newest
			}
			if a.Snapshot != want || a.Offsite == nil || a.Offsite.Target != "s3-secondary" || a.Offsite.Parent != "" || a.Offsite.Chain != want {
				t.Errorf("%s: %+v %+v, want a full stream of %s starting its chain", sv, a, a.Offsite, want)
			}
			if !strings.Contains(a.Path, "/.snapshots/") || !strings.HasSuffix(a.Path, want) {
				t.Errorf("%s: send path %s", sv, a.Path)
			}
			if !strings.Contains(a.Reason, "first chain") {
				t.Errorf("%s: reason %q", sv, a.Reason)
			}
		}
		var text bytes.Buffer
		p.WriteText(&text, false)
		if !strings.Contains(text.String(), "offsite-send") || !strings.Contains(text.String(), "htpc-home.20261122T0200 → s3-secondary") {
			t.Errorf("plan text does not show the off-site send:\n%s", text.String())
		}
	})

	t.Run("after the upload the plan is empty off-site", func(t *testing.T) {
		st := emptyTarget()
		for _, sv := range d.SubvolumeNames() {
			name := fixture.Snap(sv, sunday).Name
			m := target.Manifest{Version: target.ManifestVersion, Subvolume: sv, Chain: name, Encrypted: true,
				Streams: []target.Stream{{Seq: 0, Snapshot: name, Key: "k", Size: 1}}}
			chains := []target.Chain{{Name: name, Manifest: m, Restorable: 1}}
			st.Subvolumes[sv] = &model.OffsiteCopies{Chains: chains, Copies: target.Copies(chains)}
		}
		o.Offsite = map[string]*model.OffsiteState{"s3-secondary": st}
		p := Compute(d, o, now)
		for _, k := range []model.Kind{model.KindOffsiteSend, model.KindOffsitePrune, model.KindOffsiteCleanup} {
			if n := fixture.CountKind(p, "htpc-home", k); n != 0 {
				t.Errorf("%d %s actions after the upload", n, k)
			}
		}
	})

	t.Run("an unreachable bucket defers with one warning, not an error", func(t *testing.T) {
		o.Offsite = map[string]*model.OffsiteState{"s3-secondary": {Unreachable: "dial tcp: connection refused"}}
		p := Compute(d, o, now)
		if n := fixture.CountKind(p, "htpc-home", model.KindOffsiteSend); n != 0 {
			t.Errorf("%d sends to an unreachable target", n)
		}
		var hits int
		for _, w := range p.Warnings {
			if strings.Contains(w, "s3-secondary is unreachable") {
				hits++
			}
		}
		if hits != 1 {
			t.Errorf("warnings %q: want one for the unreachable target", p.Warnings)
		}
	})

	t.Run("leftovers of an interrupted upload are cleaned up before the send", func(t *testing.T) {
		st := emptyTarget()
		st.Subvolumes["htpc-home"].Leftovers = 2
		o.Offsite = map[string]*model.OffsiteState{"s3-secondary": st}
		p := Compute(d, o, now)
		acts := p.Actions()
		ci, si := -1, -1
		for i, a := range acts {
			if a.Subvolume != "htpc-home" {
				continue
			}
			switch a.Kind {
			case model.KindOffsiteCleanup:
				ci = i
			case model.KindOffsiteSend:
				si = i
			}
		}
		if ci < 0 || si < 0 || ci > si {
			t.Errorf("cleanup at %d, send at %d: want the cleanup first", ci, si)
		}
	})
}
