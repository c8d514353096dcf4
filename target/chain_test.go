package target

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var layout = Layout{Prefix: "monitoring/"}

// chainOf builds a manifest of snapshots as one chain, and the objects its
// streams were stored as.
func chainOf(sub string, snaps ...string) (Manifest, []Object) {
	m := Manifest{Version: ManifestVersion, Subvolume: sub, Chain: snaps[0], Encrypted: true}
	objs := []Object{{Key: layout.ManifestKey(sub, snaps[0]), Size: 100}}
	for i, s := range snaps {
		st := Stream{Seq: i, Snapshot: s, Key: layout.StreamKey(sub, snaps[0], i, s, true), Size: int64(1000 + i), SHA256: "x"}
		if i > 0 {
			st.Parent = snaps[i-1]
		}
		m.Streams = append(m.Streams, st)
		objs = append(objs, Object{Key: st.Key, Size: st.Size})
	}
	return m, objs
}

func TestLayoutKeys(t *testing.T) {
	if got, want := layout.StreamKey("home", "home.20261101T0200", 3, "home.20261122T0200", true),
		"monitoring/subvolumes/home/home.20261101T0200/0003.home.20261122T0200.btrfs.age"; got != want {
		t.Errorf("StreamKey = %q, want %q", got, want)
	}
	key := layout.ManifestKey("home", "home.20261101T0200")
	if got := ChainOfManifest(layout, "home", key); got != "home.20261101T0200" {
		t.Errorf("ChainOfManifest(%q) = %q", key, got)
	}
	for _, notManifest := range []string{
		layout.StreamKey("home", "c", 0, "s", false),
		"monitoring/subvolumes/home/manifest.json",
		"monitoring/subvolumes/home/a/b/manifest.json",
		"monitoring/subvolumes/homer/c/manifest.json",
	} {
		if got := ChainOfManifest(layout, "home", notManifest); got != "" {
			t.Errorf("ChainOfManifest(%q) = %q, want none", notManifest, got)
		}
	}
}

func TestAnalyze(t *testing.T) {
	const sub = "home"
	m1, o1 := chainOf(sub, "home.20261101T0200", "home.20261108T0200", "home.20261115T0200")
	m2, o2 := chainOf(sub, "home.20261122T0200")
	tests := []struct {
		name           string
		objects        []Object
		manifests      map[string]Manifest
		wantRestorable map[string]int
		wantBroken     map[string]string // substring
		wantLeftovers  []string
	}{{
		name:           "two complete chains",
		objects:        append(slices.Clone(o1), o2...),
		manifests:      map[string]Manifest{m1.Chain: m1, m2.Chain: m2},
		wantRestorable: map[string]int{m1.Chain: 3, m2.Chain: 1},
	}, {
		name:           "a stream uploaded after the manifest was last written is a leftover",
		objects:        append(slices.Clone(o1), Object{Key: layout.StreamKey(sub, m1.Chain, 3, "home.20261122T0200", true), Size: 5}),
		manifests:      map[string]Manifest{m1.Chain: m1},
		wantRestorable: map[string]int{m1.Chain: 3},
		wantLeftovers:  []string{layout.StreamKey(sub, m1.Chain, 3, "home.20261122T0200", true)},
	}, {
		name:           "a chain whose manifest was never written is all leftovers",
		objects:        append(slices.Clone(o1), o2[1]),
		manifests:      map[string]Manifest{m1.Chain: m1},
		wantRestorable: map[string]int{m1.Chain: 3},
		wantLeftovers:  []string{o2[1].Key},
	}, {
		name:           "a missing middle stream breaks the chain from there",
		objects:        slices.Delete(slices.Clone(o1), 2, 3),
		manifests:      map[string]Manifest{m1.Chain: m1},
		wantRestorable: map[string]int{m1.Chain: 1},
		wantBroken:     map[string]string{m1.Chain: "stream 1 (home.20261108T0200) is missing"},
	}, {
		name: "a truncated stream breaks the chain",
		objects: func() []Object {
			o := slices.Clone(o1)
			o[3].Size--
			return o
		}(),
		manifests:      map[string]Manifest{m1.Chain: m1},
		wantRestorable: map[string]int{m1.Chain: 2},
		wantBroken:     map[string]string{m1.Chain: "is 1001 bytes, the manifest says 1002"},
	}, {
		name:    "a manifest of another subvolume is not trusted",
		objects: o1,
		manifests: map[string]Manifest{m1.Chain: func() Manifest {
			m := m1
			m.Subvolume = "root"
			return m
		}()},
		wantRestorable: map[string]int{m1.Chain: 0},
		wantBroken:     map[string]string{m1.Chain: "manifest is for root/"},
	}, {
		name:    "a manifest whose streams do not follow one another is broken",
		objects: o1,
		manifests: map[string]Manifest{m1.Chain: func() Manifest {
			m := m1
			m.Streams = slices.Clone(m.Streams)
			m.Streams[2].Parent = m.Streams[0].Snapshot
			return m
		}()},
		wantRestorable: map[string]int{m1.Chain: 2},
		wantBroken:     map[string]string{m1.Chain: "stream 2 (home.20261115T0200) does not follow stream 1"},
	}, {
		name:           "objects of another subvolume are not leftovers of this one",
		objects:        append(slices.Clone(o1), Object{Key: layout.StreamKey("homer", "c", 0, "s", true)}),
		manifests:      map[string]Manifest{m1.Chain: m1},
		wantRestorable: map[string]int{m1.Chain: 3},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chains, leftovers := Analyze(layout, sub, tt.objects, tt.manifests)
			gotRestorable := map[string]int{}
			for _, c := range chains {
				gotRestorable[c.Name] = c.Restorable
				want := tt.wantBroken[c.Name]
				if (want == "") != (c.Broken == "") || !strings.Contains(c.Broken, want) {
					t.Errorf("chain %s broken = %q, want %q", c.Name, c.Broken, want)
				}
			}
			if diff := cmp.Diff(tt.wantRestorable, gotRestorable); diff != "" {
				t.Errorf("restorable streams (-want +got):\n%s", diff)
			}
			var gotLeft []string
			for _, o := range leftovers {
				gotLeft = append(gotLeft, o.Key)
			}
			if diff := cmp.Diff(tt.wantLeftovers, gotLeft); diff != "" {
				t.Errorf("leftovers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCopiesMarkWhatABreakCutsOff(t *testing.T) {
	m, o := chainOf("home", "home.20261101T0200", "home.20261108T0200", "home.20261115T0200")
	chains, _ := Analyze(layout, "home", slices.Delete(slices.Clone(o), 2, 3), map[string]Manifest{m.Chain: m})
	var restorable, broken []string
	for _, c := range Copies(chains) {
		if c.Restorable() {
			restorable = append(restorable, c.Name)
		} else {
			broken = append(broken, c.Name)
		}
	}
	if diff := cmp.Diff([]string{"home.20261101T0200"}, restorable); diff != "" {
		t.Errorf("restorable (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"home.20261108T0200", "home.20261115T0200"}, broken); diff != "" {
		t.Errorf("broken (-want +got):\n%s", diff)
	}
}

func TestNextSend(t *testing.T) {
	m1, o1 := chainOf("home", "home.20261101T0200", "home.20261108T0200")
	complete, _ := Analyze(layout, "home", o1, map[string]Manifest{m1.Chain: m1})
	broken, _ := Analyze(layout, "home", o1[:2], map[string]Manifest{m1.Chain: m1})
	all := func(string) bool { return true }
	tests := []struct {
		name      string
		chains    []Chain
		snapshot  string
		fullEvery int
		local     func(string) bool
		want      Send
	}{
		{"no chain yet", nil, "home.20261115T0200", 4, all,
			Send{Chain: "home.20261115T0200", Reason: "first chain"}},
		{"extends a short complete chain", complete, "home.20261115T0200", 4, all,
			Send{Chain: m1.Chain, Seq: 2, Parent: "home.20261108T0200",
				Reason: "incremental from home.20261108T0200, stream 3 of at most 4 in chain home.20261101T0200"}},
		{"a full chain starts a new one", complete, "home.20261115T0200", 2, all,
			Send{Chain: "home.20261115T0200", Reason: "chain home.20261101T0200 holds 2 streams (full every 2)"}},
		{"a broken chain starts a new one", broken, "home.20261115T0200", 4, all,
			Send{Chain: "home.20261115T0200", Reason: "chain home.20261101T0200 is broken: stream 1 (home.20261108T0200) is missing"}},
		{"a parent pruned locally starts a new one", complete, "home.20261115T0200", 4, func(n string) bool { return n != "home.20261108T0200" },
			Send{Chain: "home.20261115T0200", Reason: "parent home.20261108T0200 is no longer a local snapshot"}},
		{"an older snapshot never extends a newer chain", complete, "home.20261102T0200", 4, all,
			Send{Chain: "home.20261102T0200", Reason: "chain home.20261101T0200 already reaches home.20261108T0200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, NextSend(tt.chains, tt.snapshot, tt.fullEvery, tt.local)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPruneNeverCutsAKeptChain(t *testing.T) {
	ma, oa := chainOf("home", "home.20261001T0200", "home.20261008T0200")
	mb, ob := chainOf("home", "home.20261101T0200", "home.20261108T0200")
	mc, oc := chainOf("home", "home.20261201T0200")
	objects := slices.Concat(oa, ob, oc)
	manifests := map[string]Manifest{ma.Chain: ma, mb.Chain: mb, mc.Chain: mc}
	chains, _ := Analyze(layout, "home", objects, manifests)
	names := func(cs []Chain) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	tests := []struct {
		name string
		in   []Chain
		keep []string
		want []string
	}{
		{"nothing kept: all but the newest complete chain go", chains, nil, []string{ma.Chain, mb.Chain}},
		{"keeping the tip of a chain keeps the streams it is built on", chains, []string{"home.20261008T0200"}, []string{mb.Chain}},
		{"keeping the full stream keeps its chain", chains, []string{"home.20261101T0200"}, []string{ma.Chain}},
		{"the newest complete chain stays when the newest chain is broken", func() []Chain {
			cs, _ := Analyze(layout, "home", slices.Concat(oa, ob, oc[:1]), manifests)
			return cs
		}(), nil, []string{ma.Chain, mc.Chain}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Prune(tt.in, func(s string) bool { return slices.Contains(tt.keep, s) })
			if diff := cmp.Diff(tt.want, names(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPartSize(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		declared, expected int64
		want               int64
	}{
		{16 * mib, 1 << 30, 16 * mib},   // 1 GiB fits in 10,000 parts of 16 MiB with room
		{16 * mib, 100 << 30, 21 * mib}, // 100 GiB ×2 headroom needs 21 MiB parts
		{5 * mib, 0, 5 * mib},           // unknown size: the declared part size
		{16 * mib, 2 << 40, 420 * mib},  // 2 TiB: 420 MiB parts
	}
	for _, tt := range tests {
		if got := PartSize(tt.declared, tt.expected, 10000); got != tt.want {
			t.Errorf("PartSize(%d MiB, %d) = %d MiB, want %d MiB", tt.declared/mib, tt.expected, got/mib, tt.want/mib)
		}
		if got := PartSize(tt.declared, tt.expected, 10000); got*10000 < tt.expected {
			t.Errorf("PartSize(%d) = %d cannot hold the stream in 10,000 parts", tt.expected, got)
		}
	}
}
