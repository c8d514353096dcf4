package render

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/internal/systemdtest"
	"github.com/drsync/drsync/render/internal/fixture"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

func TestCalendarConversion(t *testing.T) {
	for _, c := range []struct {
		schedule string
		want     []string
	}{
		{"hourly", []string{"*-*-* *:00:00"}},
		{"daily 02:00", []string{"*-*-* 02:00:00"}},
		{"weekly sun 03:00", []string{"Sun *-*-* 03:00:00"}},
		{"weekly mon 23:59", []string{"Mon *-*-* 23:59:00"}},
		{"monthly 1 04:00", []string{"*-*-01 04:00:00"}},
		{"monthly 30 04:00", []string{"*-*-30 04:00:00", "*-02~01 04:00:00"}},
		{"monthly 31 04:00", []string{"*-*~01 04:00:00"}},
		{"every 15m", []string{"*-*-* *:00/15:00"}},
		{"every 7m", []string{"*-*-* *:*:00"}},
		{"every 6h", []string{"*-*-* 00/06:00:00"}},
		{"every 5h", []string{"*-*-* *:00:00"}},
		{"every 2d", []string{"*-*-* 00:00:00"}},
	} {
		s, err := schema.ParseSchedule(c.schedule)
		if err != nil {
			t.Fatal(err)
		}
		var ws []wake
		if s.Kind == "every" {
			ws = []wake{intervalWake(s.Every)}
		} else {
			ws = calendarWakes(s)
		}
		var got []string
		for _, w := range ws {
			got = append(got, w.calendar)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.schedule, got, c.want)
		}
	}
}

// TestCalendarUnion checks that the restore-test cadence adds a wake-up
// only when no declared slot already comes often enough.
func TestCalendarUnion(t *testing.T) {
	in := fixture.Input(t)
	// The services' hourly and 01:00 backups wake the timer too.
	if got, want := onCalendar(in), []string{"*-*-* *:00:00", "*-*-* 01:00:00", "*-*-* 02:00:00", "*-*-01 04:00:00", "Sun *-*-* 03:00:00"}; !slices.Equal(got, want) {
		t.Errorf("homelab: got %q, want %q", got, want)
	}
	in.Desired.Services = nil
	monthly, err := schema.ParseSchedule("monthly 1 04:00")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range in.Desired.Subvolumes {
		s.Snapshots.Schedule = monthly
		s.External = nil
	}
	if got, want := onCalendar(in), []string{"*-*-* 00:00:00", "*-*-01 04:00:00"}; !slices.Equal(got, want) {
		t.Errorf("monthly only: got %q, want %q (a daily wake-up for the 30d restore tests)", got, want)
	}
}

func TestSystemdCalendarExpressions(t *testing.T) {
	sa := promtest.Tool(t, "systemd-analyze", "systemd")
	exprs := onCalendar(fixture.Input(t))
	for _, s := range []string{"hourly", "monthly 29 01:00", "monthly 31 01:00", "every 15m", "every 6h", "every 5h", "every 2d"} {
		sc, err := schema.ParseSchedule(s)
		if err != nil {
			t.Fatal(err)
		}
		if sc.Kind == "every" {
			exprs = append(exprs, intervalWake(sc.Every).calendar)
			continue
		}
		for _, w := range calendarWakes(sc) {
			exprs = append(exprs, w.calendar)
		}
	}
	for _, e := range exprs {
		out := fixture.Run(t, "", sa, "calendar", "--iterations=2", e)
		if !strings.Contains(out, "Next elapse:") {
			t.Errorf("%s: no next elapse:\n%s", e, out)
		}
	}
}

// TestSystemdVerify verifies the units with the binary pointed at a stub,
// since systemd checks ExecStart is executable.
func TestSystemdVerify(t *testing.T) {
	sa := promtest.Tool(t, "systemd-analyze", "systemd")
	in := fixture.Input(t)
	dir := t.TempDir()
	stub := filepath.Join(dir, "bin", "drsync")
	fixture.WriteFile(t, stub, []byte("#!/bin/sh\nexit 0\n"))
	if err := os.Chmod(stub, 0o755); err != nil {
		t.Fatal(err)
	}
	in.Desired.Generate.Binary = stub
	units, err := SystemdUnits(in)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, name := range slices.Sorted(maps.Keys(units)) {
		p := filepath.Join(dir, name)
		fixture.WriteFile(t, p, units[name])
		paths = append(paths, p)
	}
	out := fixture.Run(t, dir, sa, append([]string{"verify"}, paths...)...)
	for _, name := range slices.Sorted(maps.Keys(units)) {
		if strings.Contains(out, name) {
			t.Errorf("systemd-analyze verify complains about %s:\n%s", name, out)
		}
	}
	svc := string(units[view.ApplyService])
	for _, want := range []string{
		"ExecStart=" + stub + " apply --auto-approve -f " + in.Desired.Generate.DesiredFile,
		"Type=oneshot", "TimeoutStartSec=12h",
	} {
		if !strings.Contains(svc, want) {
			t.Errorf("%s lacks %q", view.ApplyService, want)
		}
	}
	timer := string(units[view.ApplyTimer])
	for _, want := range []string{"Persistent=true", "RandomizedDelaySec=", "WantedBy=timers.target"} {
		if !strings.Contains(timer, want) {
			t.Errorf("%s lacks %q", view.ApplyTimer, want)
		}
	}
	if !strings.Contains(string(units[view.WatchService]), "ExecStart="+stub+" watch -f ") {
		t.Errorf("%s does not run drsync watch", view.WatchService)
	}
}

// oddPath holds every character systemd treats specially in a unit file.
const oddPath = `/tmp/odd dir 'single' "double" 100% $HOME ${X} \back\ ;semi`

// TestSystemdArgvRoundTrip renders the units with the binary, the desired
// file and the runbooks at paths full of characters systemd would split,
// expand or unescape, and asks systemd itself: verify accepts every unit
// (so the binary's path was unescaped right: verify checks it is
// executable), and the argv systemd parsed, after its exec-time expansion
// of $$, is exactly the argv drsync meant.
func TestSystemdArgvRoundTrip(t *testing.T) {
	in := fixture.Input(t)
	dir := t.TempDir()
	odd := filepath.Join(dir, oddPath)
	// systemd refuses quotes and backslashes in an executable's path and
	// does not expand $ there (see TestSystemdRefusesBinary).
	stub := filepath.Join(dir, "odd bin 100%", "drsync")
	fixture.WriteFile(t, stub, []byte("#!/bin/sh\nexit 0\n"))
	if err := os.Chmod(stub, 0o755); err != nil {
		t.Fatal(err)
	}
	g := &in.Desired.Generate
	g.Binary, g.DesiredFile, g.Runbooks = stub, filepath.Join(odd, "drsync.cue"), filepath.Join(odd, "run books")
	in.Desired.StateDir = filepath.Join(odd, "state")
	units, err := SystemdUnits(in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		view.ApplyService: {stub, "apply", "--auto-approve", "-f", g.DesiredFile},
		view.WatchService: {stub, "watch", "-f", g.DesiredFile, "--work-dir", filepath.Join(in.Desired.StateDir, "watch")},
	}
	for _, name := range slices.Sorted(maps.Keys(units)) {
		p := filepath.Join(dir, name)
		fixture.WriteFile(t, p, units[name])
		systemdtest.Verify(t, p)
		if want[name] == nil {
			continue
		}
		got, err := systemdtest.ExecStart(t, p)
		if err != nil {
			t.Error(err)
			continue
		}
		if !slices.Equal(got, want[name]) {
			t.Errorf("%s: systemd runs\n  %q\nwant\n  %q", name, got, want[name])
		}
	}
}

func TestSystemdRefusesBinary(t *testing.T) {
	for _, bin := range []string{`/opt/a"b/drsync`, `/opt/a'b/drsync`, `/opt/a\\b/drsync`, "/opt/$HOME/drsync", "/opt/a\nb/drsync"} {
		in := fixture.Input(t)
		in.Desired.Generate.Binary = bin
		if _, err := SystemdUnits(in); err == nil || !strings.Contains(err.Error(), "generate.binary") {
			t.Errorf("binary %q: got %v, want an error naming generate.binary", bin, err)
		}
	}
}
