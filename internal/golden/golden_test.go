package golden

import (
	"os"
	"path/filepath"
	"testing"
)

func TestUpdateReadsTheSwitch(t *testing.T) {
	t.Setenv(EnvVar, "")
	if Update() {
		t.Error("Update() with the variable empty")
	}
	t.Setenv(EnvVar, "1")
	if !Update() {
		t.Error("!Update() with the variable 1")
	}
}

func TestCheckRewritesOnlyWhenUpdating(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "want.txt")

	t.Setenv(EnvVar, "1")
	Check(t, path, []byte("first\n"))
	if b, err := os.ReadFile(path); err != nil || string(b) != "first\n" {
		t.Fatalf("update wrote %q, %v", b, err)
	}

	t.Setenv(EnvVar, "")
	Check(t, path, []byte("first\n")) // equal: passes

	var rec recorder
	Check(&rec, path, []byte("second\n"))
	if !rec.failed {
		t.Error("a differing result passed the comparison")
	}
	if b, _ := os.ReadFile(path); string(b) != "first\n" {
		t.Errorf("comparing rewrote the file: %q", b)
	}
}

// recorder is a testing.TB that notes a failure instead of failing the
// test that checks Check itself.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true }
