package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAlertingUnknownReceiver: a route naming an undeclared receiver is an
// error positioned in the user's file, listing the declared ones.
func TestAlertingUnknownReceiver(t *testing.T) {
	src, err := os.ReadFile("../testdata/desired/alerting.cue")
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(src), `{receiver: "phone", severity: "critical"}`, `{receiver: "phnoe", severity: "critical"}`, 1)
	if broken == string(src) {
		t.Fatal("fixture changed: route to phone not found")
	}
	file := filepath.Join(t.TempDir(), "drsync.cue")
	if err := os.WriteFile(file, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(file, nil)
	if err == nil {
		t.Fatal("loaded a route to an undeclared receiver")
	}
	want := `alerting.routes[1].receiver: unknown receiver "phnoe" (declared: mail, ops-slack, pager, phone, team-chat)`
	if !strings.Contains(err.Error(), file+":") || !strings.Contains(err.Error(), want) {
		t.Errorf("error %q\nwant the file's position and %q", err, want)
	}
}

// TestAlertingDefaults: the schema fills what a user leaves out.
func TestAlertingDefaults(t *testing.T) {
	d, err := Load("../testdata/desired/alerting.cue", nil)
	if err != nil {
		t.Fatal(err)
	}
	a := d.Alerting
	if FormatDuration(a.GroupWait.Duration) != "30s" || FormatDuration(a.RepeatInterval.Duration) != "4h" || !a.Receivers["mail"].RequireTLS || !a.Receivers["phone"].SendResolved {
		t.Errorf("defaults not applied: %+v", a)
	}
	if p := d.Pings["hc"]; len(p.Commands) != 4 || len(p.Events) != 3 {
		t.Errorf("ping defaults not applied: %+v", p)
	}
	if p := d.Pings["topic"]; len(p.Events) != 1 || p.Events[0] != "fail" {
		t.Errorf("ping events: %+v", p)
	}
}
