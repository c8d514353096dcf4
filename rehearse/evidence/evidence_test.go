package evidence

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAppendAndLoadKeepNewestAndNewestSuccess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, r := range []Rehearsal{
		{Runbook: "DR-002", Started: at, Seconds: 60, Bytes: 100, Passed: true},
		{Runbook: "DR-002", Started: at.Add(time.Hour), Seconds: 30, Passed: false, Detail: "drsync recover: exit 1"},
		{Runbook: "DR-004", Started: at, Seconds: 5, Passed: false},
	} {
		if err := Append(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	// A torn last write is skipped with a warning, not fatal.
	f, err := os.OpenFile(filepath.Join(dir, File), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"runbook":"DR-0`)
	f.Close()
	got, warnings, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "line 4") {
		t.Errorf("warnings %q", warnings)
	}
	dr2 := got["DR-002"]
	if dr2.Last.Passed || dr2.Last.Detail != "drsync recover: exit 1" || dr2.LastSuccess == nil || dr2.LastSuccess.Bytes != 100 {
		t.Errorf("DR-002: %+v", dr2)
	}
	if dr4 := got["DR-004"]; dr4.LastSuccess != nil || dr4.Last.Duration() != 5*time.Second {
		t.Errorf("DR-004: %+v", dr4)
	}
	if info, err := os.Stat(filepath.Join(dir, File)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v %v", info.Mode(), err)
	}
}

func TestMissingJournalIsEmptyAndSymlinkIsRefused(t *testing.T) {
	dir := t.TempDir()
	if got, _, err := Load(dir); err != nil || len(got) != 0 {
		t.Fatalf("missing journal: %v %v", got, err)
	}
	target := filepath.Join(dir, "elsewhere")
	os.WriteFile(target, nil, 0o600)
	os.Symlink(target, filepath.Join(dir, File))
	if err := Append(dir, Rehearsal{Runbook: "DR-001"}); err == nil {
		t.Error("appended through a symlink")
	}
	if _, _, err := Load(dir); err == nil {
		t.Error("read through a symlink")
	}
	if b, _ := os.ReadFile(target); len(b) != 0 {
		t.Errorf("the symlink's target was written: %q", b)
	}
}
