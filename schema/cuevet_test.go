package schema

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCueVetAgreesWithLoad proves that the exported schema is usable on its
// own: the cue command, built from the module's own CUE version, gives the
// same verdict as Load on a valid example and on files that CUE itself
// rejects (not drsync's Go-side reference checks, which cue cannot see).
//
// CUE v0.17 accepts -d only with data (non-CUE) inputs, so the user's file
// is first evaluated to JSON with `cue export` (applying its @tag
// defaults) and the JSON is vetted against #Desired.
func TestCueVetAgreesWithLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cue command")
	}
	chdirRoot(t)
	tmp := t.TempDir()
	cue := filepath.Join(tmp, "cue")
	build := exec.Command("go", "build", "-o", cue, "cuelang.org/go/cmd/cue")
	if out, err := build.CombinedOutput(); err != nil {
		t.Skipf("cannot build cue (offline, or go.sum lacks cuelang.org/go/cmd/cue): %v\n%s", err, out)
	}
	schemaFile, err := Export(filepath.Join(tmp, "schema"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file  string
		valid bool
	}{
		{"examples/desired/homelab.cue", true},
		{"testdata/desired/small.cue", true},
		{"testdata/invalid/negative-count.cue", false},
		{"testdata/invalid/relative-path.cue", false},
		{"testdata/invalid/unknown-field.cue", false},
	} {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			_, loadErr := Load(c.file, nil)
			if (loadErr == nil) != c.valid {
				t.Fatalf("Load: valid=%v, want %v: %v", loadErr == nil, c.valid, loadErr)
			}
			data := filepath.Join(t.TempDir(), "data.json")
			export := exec.Command(cue, "export", "--out", "json", "-o", data, c.file)
			if out, err := export.CombinedOutput(); err != nil {
				t.Fatalf("cue export %s: %v\n%s", c.file, err, out)
			}
			vet := exec.Command(cue, "vet", "-c", "-d", "#Desired", schemaFile, data)
			out, vetErr := vet.CombinedOutput()
			if (vetErr == nil) != c.valid {
				t.Fatalf("cue vet: valid=%v, want %v (as Load)\n%s", vetErr == nil, c.valid, out)
			}
			if vetErr != nil {
				if _, ok := vetErr.(*exec.ExitError); !ok {
					t.Fatalf("cue vet did not run: %v", vetErr)
				}
				t.Logf("cue vet rejects, as Load does:\n%s", out)
			}
		})
	}
}
