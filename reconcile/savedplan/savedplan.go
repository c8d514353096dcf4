// Package savedplan keeps plans between `drsync plan -o` and `drsync apply
// PLANFILE`: the plan with a fingerprint of the desired state it was made
// from, refused when anything it was made from changed.
package savedplan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner"
	"github.com/drsync/drsync/schema"
)

// Version is the version of the saved-plan file; with the plan's
// own PlanVersion it must match this drsync's, or the plan is refused.
const Version = 3 // 3: the observation's fingerprint moved from the plan to the file

// Plan is what `plan -o` writes and `apply PLANFILE` reads: the plan,
// how to reload the desired state it was made from, a fingerprint of that
// desired state (every file's SHA-256, and the tags) and one of the
// observation. Only a saved plan needs the observation's fingerprint, which
// hashes every snapshot: `plan` alone does not compute it.
type Plan struct {
	Version int      `json:"version"`
	File    string   `json:"file"`
	Tags    []string `json:"tags,omitempty"`
	Storage string   `json:"storage"`
	// Inputs maps each desired-state file to its SHA-256.
	Inputs map[string]string `json:"inputs"`
	// Observed is the fingerprint of the observation the plan was made
	// from (model.Observed.Fingerprint).
	Observed string      `json:"observed"`
	Plan     *model.Plan `json:"plan"`
}

// New fingerprints the desired state at file (a file or a
// directory of .cue files) and the observation o for p, which was
// computed from them.
func New(file string, tags []string, storage string, p *model.Plan, o *model.Observed) (*Plan, error) {
	inputs, err := desiredInputs(file)
	if err != nil {
		return nil, err
	}
	return &Plan{Version: Version, File: file, Tags: tags, Storage: storage, Inputs: inputs, Observed: o.Fingerprint(), Plan: p}, nil
}

// desiredInputs hashes the files a desired state is loaded from, as
// schema.Load reads them: the file, or a directory's .cue files.
func desiredInputs(path string) (map[string]string, error) {
	files := []string{path}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		if files, err = filepath.Glob(filepath.Join(path, "*.cue")); err != nil {
			return nil, err
		}
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("desired state: %w", err)
		}
		sum := sha256.Sum256(b)
		out[f] = hex.EncodeToString(sum[:])
	}
	return out, nil
}

// Write saves the plan to path, mode 0600, through a temporary file in
// the same directory renamed over path: a symlink planted at path is
// replaced, never followed, and a reader never sees half a plan.
func (s *Plan) Write(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	var tmp string
	var f *os.File
	for i := 0; ; i++ {
		tmp = filepath.Join(dir, fmt.Sprintf(".%s.tmp-%d-%d", filepath.Base(path), os.Getpid(), i))
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
		if !errors.Is(err, os.ErrExist) || i > 100 {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("saving plan: %w", err)
	}
	defer os.Remove(tmp)
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("saving plan: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("saving plan: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("saving plan: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("saving plan: %w", err)
	}
	return nil
}

// Read reads a saved plan; one of another version is refused.
func Read(path string) (*Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading plan: %w", err)
	}
	var s Plan
	if err := json.Unmarshal(b, &s); err != nil || s.Plan == nil {
		if err == nil {
			err = errors.New("no plan in it")
		}
		return nil, fmt.Errorf("%s: not a drsync plan file: %w", path, err)
	}
	if s.Version != Version {
		return nil, fmt.Errorf("%s was saved by another version of drsync (file version %d, this drsync reads %d): run drsync plan -o again",
			path, s.Version, Version)
	}
	if s.Plan.Version != model.PlanVersion {
		return nil, fmt.Errorf("%s was saved by another version of drsync (plan version %d, this drsync reads %d): run drsync plan -o again",
			path, s.Plan.Version, model.PlanVersion)
	}
	return &s, nil
}

// Planner recomputes the saved plan from the desired state and this run's
// observation, at the time it was made, and refuses unless nothing it was
// made from changed and its actions are exactly the recomputed ones: an
// edited plan file runs nothing.
func (s *Plan) Planner(path string) reconcile.Planner {
	return func(d *schema.Desired, o *model.Observed, now time.Time) (*model.Plan, error) {
		inputs, err := desiredInputs(s.File)
		if err != nil {
			return nil, err
		}
		if changed := changedInputs(s.Inputs, inputs); len(changed) > 0 {
			return nil, fmt.Errorf("the desired state changed since %s was made (%s): run drsync plan again",
				path, strings.Join(changed, "; "))
		}
		if fp := o.Fingerprint(); fp != s.Observed {
			return nil, fmt.Errorf("the machine changed since %s was made (observed %s, plan expects %s): run drsync plan again",
				path, fp, s.Observed)
		}
		// At the time it was made, in this run's zone (JSON kept only the
		// offset, and schedules need the zone's DST rules).
		p := planner.Compute(d, o, s.Plan.Now.In(now.Location()))
		// A source's live counts are no part of the fingerprint (they
		// change all the time), so what the shrink comparison made of them
		// is compared here: a warning that came or went changes the plan
		// a person approved as surely as a hold does.
		if changed := shrinkChanges(s.Plan.Subvolumes, p.Subvolumes); len(changed) > 0 {
			return nil, fmt.Errorf("the snapshots' shrink verdict changed since %s was made (%s): run drsync plan again",
				path, strings.Join(changed, "; "))
		}
		if diff := actionDiff(s.Plan.Actions(), p.Actions()); len(diff) > 0 {
			return nil, fmt.Errorf("%s does not hold the plan its desired state and machine give (%s): it was edited; run drsync plan again",
				path, strings.Join(diff, "; "))
		}
		return p, nil
	}
}

// shrinkChanges names the subvolumes whose shrink verdict differs.
func shrinkChanges(saved, now []model.SubvolumePlan) []string {
	verdicts := func(sps []model.SubvolumePlan) map[string]string {
		m := map[string]string{}
		for _, sp := range sps {
			m[sp.Name] = string(sp.Shrink)
		}
		return m
	}
	was, is := verdicts(saved), verdicts(now)
	var out []string
	for _, name := range slices.Sorted(keysOf(was, is)) {
		if was[name] != is[name] {
			out = append(out, fmt.Sprintf("%s: %s then, %s now", name, verdictName(was[name]), verdictName(is[name])))
		}
	}
	return out
}

func verdictName(v string) string {
	switch model.ShrinkVerdict(v) {
	case model.ShrinkWarn:
		return "a warning"
	case model.ShrinkHold:
		return "prunes held"
	}
	return "nothing"
}

// changedInputs names the files added, removed or changed.
func changedInputs(saved, now map[string]string) []string {
	var out []string
	for _, f := range slices.Sorted(keysOf(saved, now)) {
		switch was, is := saved[f], now[f]; {
		case was == "":
			out = append(out, f+" is new")
		case is == "":
			out = append(out, f+" is gone")
		case was != is:
			out = append(out, f+" changed")
		}
	}
	return out
}

func keysOf(maps ...map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		seen := map[string]bool{}
		for _, m := range maps {
			for k := range m {
				if !seen[k] {
					seen[k] = true
					if !yield(k) {
						return
					}
				}
			}
		}
	}
}

// actionDiff names the actions only one of the lists holds, compared by
// their full JSON: every field of every payload counts.
func actionDiff(saved, want []model.Action) []string {
	key := func(a model.Action) string {
		b, _ := json.Marshal(a)
		return string(b)
	}
	count := map[string]int{}
	for _, a := range want {
		count[key(a)]++
	}
	var out []string
	for _, a := range saved {
		k := key(a)
		if count[k] == 0 {
			out = append(out, fmt.Sprintf("saved %s %s is not planned", a.Kind, a.Path))
			continue
		}
		count[k]--
	}
	for _, a := range want {
		if k := key(a); count[k] > 0 {
			count[k]--
			out = append(out, fmt.Sprintf("planned %s %s is not in the file", a.Kind, a.Path))
		}
	}
	return out
}
