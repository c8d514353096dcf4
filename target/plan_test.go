package target

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drsync/drsync/retention"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
)

func sched(t *testing.T, text string) schema.Schedule {
	t.Helper()
	s, err := schema.ParseSchedule(text)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// locals are daily 02:00 snapshots on the given November 2026 days.
func locals(days ...int) []Local {
	var out []Local
	for _, d := range days {
		tm := time.Date(2026, 11, d, 2, 0, 0, 0, time.UTC)
		out = append(out, Local{Name: snapname.Format("home", tm), Time: tm})
	}
	return out
}

func copies(days ...int) []Copy {
	var out []Copy
	for _, l := range locals(days...) {
		out = append(out, Copy{Name: l.Name, Complete: true})
	}
	return out
}

// brief is an action as the tests compare it: kind, name, parent, and
// whether the reason mentions a word.
type brief struct {
	Kind   ActionKind
	Name   string
	Parent string
	Chain  string
}

func briefs(as []Action) []brief {
	var out []brief
	for _, a := range as {
		out = append(out, brief{a.Kind, a.Name, a.Parent, a.Chain})
	}
	return out
}

func TestPlanReplicas(t *testing.T) {
	// Sunday 2026-11-22 05:10, just after the weekly send slot.
	sunday := time.Date(2026, 11, 22, 5, 10, 0, 0, time.UTC)
	weekly4 := retention.Policy{MinLatest: true, Weekly: 4, Hourly: retention.Unset, Daily: retention.Unset, Monthly: retention.Unset, Yearly: retention.Unset}
	base := func() PlanInput {
		return PlanInput{Target: "backuphost", Subvolume: "home", Sends: schema.OffsiteSends{Schedule: sched(t, "weekly sun 05:00")},
			SnapshotSchedule: sched(t, "daily 02:00"), Policy: weekly4, Now: sunday, Loc: time.UTC}
	}
	tests := []struct {
		name     string
		edit     func(*PlanInput)
		want     []brief
		deferred bool
		warning  string
		expected int64
	}{{
		name: "first send is full",
		edit: func(in *PlanInput) { in.Local = locals(20, 21, 22) },
		want: []brief{{ActSend, "home.20261122T0200", "", ""}},
	}, {
		name: "a week later the send is incremental from the copy in common",
		edit: func(in *PlanInput) { in.Local, in.Copies = locals(15, 20, 21, 22), copies(15) },
		want: []brief{{ActSend, "home.20261122T0200", "home.20261115T0200", ""}},
	}, {
		name:     "a btrfs host keeps no sizes: the last send's is expected",
		edit:     func(in *PlanInput) { in.Local, in.Copies, in.LastSentBytes = locals(15, 20, 21, 22), copies(15), 4096 },
		want:     []brief{{ActSend, "home.20261122T0200", "home.20261115T0200", ""}},
		expected: 4096,
	}, {
		name: "after the send nothing is due: apply then plan is empty",
		edit: func(in *PlanInput) { in.Local, in.Copies = locals(15, 22), copies(15, 22) },
	}, {
		name: "Monday's snapshot waits for next Sunday's slot",
		edit: func(in *PlanInput) {
			in.Local, in.Copies = locals(22, 23), copies(22)
			in.Now = time.Date(2026, 11, 23, 5, 10, 0, 0, time.UTC)
		},
	}, {
		name: "before Sunday's slot, Sunday's snapshot is not sent yet",
		edit: func(in *PlanInput) {
			in.Local, in.Copies = locals(15, 22), copies(15)
			in.Now = time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)
		},
	}, {
		name:     "an unreachable host defers everything",
		edit:     func(in *PlanInput) { in.Local, in.Unreachable = locals(22), "connection refused" },
		deferred: true,
	}, {
		name: "a half-received replica is cleaned up; a foreign one only reported",
		edit: func(in *PlanInput) {
			in.Local, in.Copies = locals(15, 22), append(copies(15, 22), Copy{Name: "home.20261121T0200"}, Copy{Name: "notes", Foreign: true})
		},
		want:    []brief{{ActCleanup, "home.20261121T0200", "", ""}},
		warning: "notes on backuphost is not drsync's: left alone",
	}, {
		name: "retention prunes old copies but never the parent of the next send",
		edit: func(in *PlanInput) {
			// Weekly copies since October; of them only 11-01 is still local.
			in.Copies = append([]Copy{{Name: "home.20261004T0200", Complete: true}, {Name: "home.20261011T0200", Complete: true}}, copies(1, 8)...)
			in.Local = locals(1, 22)
			in.Policy.Weekly = 1
		},
		// Weekly 1 keeps this week (the 22nd, being sent) and last week
		// (no copy); 11-01 stays as the parent of the send.
		want: []brief{
			{ActSend, "home.20261122T0200", "home.20261101T0200", ""},
			{ActPrune, "home.20261004T0200", "", ""},
			{ActPrune, "home.20261011T0200", "", ""},
			{ActPrune, "home.20261108T0200", "", ""},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base()
			tt.edit(&in)
			res := Plan(in)
			if diff := cmp.Diff(tt.want, briefs(res.Actions)); diff != "" {
				t.Errorf("actions (-want +got):\n%s\nreasons: %+v", diff, res.Actions)
			}
			for _, a := range res.Actions {
				if a.Kind == ActSend && a.ExpectedBytes != tt.expected {
					t.Errorf("expected bytes %d, want %d", a.ExpectedBytes, tt.expected)
				}
			}
			if (res.Deferred != "") != tt.deferred {
				t.Errorf("deferred %q, want %v", res.Deferred, tt.deferred)
			}
			if tt.warning != "" && !strings.Contains(strings.Join(res.Warnings, "\n"), tt.warning) {
				t.Errorf("warnings %q, want %q", res.Warnings, tt.warning)
			}
			for _, a := range res.Actions {
				if a.Reason == "" || a.Target != "backuphost" || a.Subvolume != "home" {
					t.Errorf("action without reason or owner: %+v", a)
				}
			}
		})
	}
}

func TestPlanObjectStorage(t *testing.T) {
	sunday := time.Date(2026, 11, 22, 5, 10, 0, 0, time.UTC)
	m1, o1 := chainOf("home", "home.20261101T0200", "home.20261108T0200")
	m2, o2 := chainOf("home", "home.20261115T0200")
	chains, _ := Analyze(layout, "home", append(o1, o2...), map[string]Manifest{m1.Chain: m1, m2.Chain: m2})
	keepNewest := retention.Policy{MinLatest: true, Hourly: retention.Unset, Daily: retention.Unset, Weekly: retention.Unset, Monthly: retention.Unset, Yearly: retention.Unset}
	in := PlanInput{Target: "s3-secondary", Subvolume: "home", Sends: schema.OffsiteSends{Schedule: sched(t, "weekly sun 05:00")},
		SnapshotSchedule: sched(t, "daily 02:00"), Policy: keepNewest, Now: sunday, Loc: time.UTC,
		Local: locals(15, 22), ObjectStorage: true, Chains: chains, Copies: Copies(chains), FullEvery: 2, Leftovers: 3}
	res := Plan(in)
	want := []brief{
		{ActCleanup, "", "", ""},
		{ActSend, "home.20261122T0200", "home.20261115T0200", "home.20261115T0200"},
		{ActPrune, "home.20261101T0200", "", "home.20261101T0200"},
	}
	if diff := cmp.Diff(want, briefs(res.Actions)); diff != "" {
		t.Errorf("(-want +got):\n%s\n%+v", diff, res.Actions)
	}
	if !strings.Contains(res.Actions[1].Reason, "incremental from home.20261115T0200, stream 2 of at most 2") {
		t.Errorf("send reason %q", res.Actions[1].Reason)
	}
	// The incremental is expected to be as large as the last incremental
	// stored (chainOf's stream 1 is 1001 bytes), whatever the last send was.
	in.LastSentBytes = 5
	if got := Plan(in).Actions[1].ExpectedBytes; got != 1001 {
		t.Errorf("expected size of the incremental %d, want 1001", got)
	}
	in.LastSentBytes = 0

	// A chain broken from its first stream restores nothing: reported,
	// never counted, never pruned by retention; the send starts afresh.
	broken, _ := Analyze(layout, "home", o2[:1], map[string]Manifest{m2.Chain: m2})
	in.Chains, in.Copies, in.Leftovers = broken, Copies(broken), 0
	res = Plan(in)
	if diff := cmp.Diff([]brief{{ActSend, "home.20261122T0200", "", "home.20261122T0200"}}, briefs(res.Actions)); diff != "" {
		t.Errorf("broken chain (-want +got):\n%s", diff)
	}
	if got := res.Actions[0].ExpectedBytes; got != 1000 {
		t.Errorf("expected size of the full stream %d, want the last full one's 1000", got)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "cannot be restored") {
		t.Errorf("warnings %q", res.Warnings)
	}
}

// TestPlanKeepLocal: the planner names the local snapshot the next send
// will be incremental from, so local retention keeps it (issue 9's risk:
// pruning it locally turns the next send into a full one).
func TestPlanKeepLocal(t *testing.T) {
	sunday := time.Date(2026, 11, 22, 5, 10, 0, 0, time.UTC)
	monday := time.Date(2026, 11, 23, 5, 10, 0, 0, time.UTC)
	weekly4 := retention.Policy{MinLatest: true, Weekly: 4, Hourly: retention.Unset, Daily: retention.Unset, Monthly: retention.Unset, Yearly: retention.Unset}
	name := func(day int) string { return locals(day)[0].Name }
	s3chains := func(snaps ...[]string) []Chain {
		objs, manifests := []Object{}, map[string]Manifest{}
		for _, sn := range snaps {
			m, o := chainOf("home", sn...)
			objs, manifests[m.Chain] = append(objs, o...), m
		}
		chains, _ := Analyze(layout, "home", objs, manifests)
		return chains
	}
	tests := []struct {
		name string
		edit func(*PlanInput)
		want string
	}{{
		name: "ssh: no copy yet, the send planned now is the next parent",
		edit: func(in *PlanInput) { in.Local = locals(20, 21, 22) },
		want: name(22),
	}, {
		name: "ssh: between send slots the newest snapshot both sides hold",
		edit: func(in *PlanInput) { in.Local, in.Copies, in.Now = locals(15, 22, 23), copies(15, 22), monday },
		want: name(22),
	}, {
		name: "ssh: a parent that only the target still holds is no parent",
		edit: func(in *PlanInput) { in.Local, in.Copies, in.Now = locals(23), copies(15), monday },
		want: "",
	}, {
		name: "s3: the newest chain can grow from its last snapshot",
		edit: func(in *PlanInput) {
			in.ObjectStorage, in.FullEvery, in.Now = true, 3, monday
			in.Local, in.Chains = locals(15, 22, 23), s3chains([]string{name(15), name(22)})
		},
		want: name(22),
	}, {
		name: "s3: a full chain grows no more: the next send is full",
		edit: func(in *PlanInput) {
			in.ObjectStorage, in.FullEvery, in.Now = true, 2, monday
			in.Local, in.Chains = locals(15, 22, 23), s3chains([]string{name(15), name(22)})
		},
		want: "",
	}, {
		name: "s3: the send planned now fills the chain: nothing to keep",
		edit: func(in *PlanInput) {
			in.ObjectStorage, in.FullEvery = true, 2
			in.Local, in.Chains = locals(15, 22), s3chains([]string{name(15)})
		},
		want: "",
	}, {
		name: "s3: the send planned now extends the chain and stays its tip",
		edit: func(in *PlanInput) {
			in.ObjectStorage, in.FullEvery = true, 8
			in.Local, in.Chains = locals(15, 22), s3chains([]string{name(15)})
		},
		want: name(22),
	}, {
		name: "unreachable: nothing known, nothing named",
		edit: func(in *PlanInput) { in.Local, in.Unreachable = locals(22), "connection refused" },
		want: "",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := PlanInput{Target: "t", Subvolume: "home", Sends: schema.OffsiteSends{Schedule: sched(t, "weekly sun 05:00")},
				SnapshotSchedule: sched(t, "daily 02:00"), Policy: weekly4, Now: sunday, Loc: time.UTC}
			tt.edit(&in)
			if in.ObjectStorage {
				in.Copies = Copies(in.Chains)
			}
			if got := Plan(in).KeepLocal; got != tt.want {
				t.Errorf("KeepLocal = %q, want %q", got, tt.want)
			}
		})
	}
}
