// Package golden is the one switch for expected test output: with
// DRSYNC_UPDATE=1 in the environment every golden comparison rewrites its
// file and every testscript script rewrites its cmp files instead of
// comparing (`make golden`). One variable, not a flag per package, because
// `go test ./... -update` fails in every package that defines no such flag.
package golden

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// EnvVar is the environment variable that turns updating on.
const EnvVar = "DRSYNC_UPDATE"

// Update reports whether tests should rewrite expected output rather than
// compare with it.
func Update() bool { return os.Getenv(EnvVar) == "1" }

// Check compares got with the golden file at path, or rewrites that file
// (creating its directory) when Update is on. A missing file is an error
// that says how to create it.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if Update() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (%s=1 creates it: make golden)", err, EnvVar)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got; %s=1 rewrites it):\n%s", path, EnvVar, diff)
	}
}
