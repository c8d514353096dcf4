package schema

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds the loader arbitrary desired-state text and -t tags: it
// must never panic, and what it accepts must hold together (every tier and
// location a subvolume names is declared, every schedule is one), since
// the planner relies on that without checking again.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("../examples/desired/*.cue")
	more, _ := filepath.Glob("../testdata/desired/*.cue")
	invalid, _ := filepath.Glob("../testdata/invalid/*.cue")
	for _, p := range append(append(seeds, more...), invalid...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b), "root=/sandbox")
	}
	f.Add(twoSubvolumes, "")
	f.Add("package drsync\n", "root=x")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, text, tag string) {
		p := filepath.Join(t.TempDir(), "drsync.cue")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		var tags []string
		if tag != "" {
			tags = []string{tag}
		}
		d, err := Load(p, tags)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		for name, s := range d.Subvolumes {
			if _, ok := d.Tiers[s.Tier]; !ok {
				t.Errorf("subvolume %s: undeclared tier %q accepted", name, s.Tier)
			}
			for _, r := range []*Replication{&s.Snapshots, s.External} {
				if r == nil {
					continue
				}
				if _, ok := d.Locations[r.Location]; !ok {
					t.Errorf("subvolume %s: undeclared location %q accepted", name, r.Location)
				}
				if sc := r.Schedule; sc.Kind == "" || sc.Kind == "every" && sc.Every <= 0 {
					t.Errorf("subvolume %s: schedule %+v accepted", name, sc)
				}
			}
		}
	})
}
