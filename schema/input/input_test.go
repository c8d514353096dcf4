package input

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cuelang.org/go/cue"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUndeclaredTag(t *testing.T) {
	p := writeFile(t, t.TempDir(), "drsync.cue", "package drsync\n\nroot: \"\"\n")
	_, err := Read(p, []string{"root=/sb"}, nil)
	if err == nil || !strings.Contains(err.Error(), p+":1:1") || !strings.Contains(err.Error(), `the tag "root" is not declared by `+p) {
		t.Errorf("got %v, want the tag named as not declared by %s", err, p)
	}
}

func TestTagsAndDirectories(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.cue", "package x\nroot: *\"\" | string @tag(root)\n")
	writeFile(t, dir, "b.cue", "package x\nstateDir: \"\\(root)/state\"\n")
	user, err := Read(dir, []string{"root=/sb"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := user.LookupPath(cue.ParsePath("stateDir")).String(); got != "/sb/state" {
		t.Errorf("stateDir = %q, want both files read and the tag injected", got)
	}
}

// TestWhatIsNotADesiredState: each is refused with what to do instead.
func TestWhatIsNotADesiredState(t *testing.T) {
	dir := t.TempDir()
	yaml := writeFile(t, dir, "drsync.yaml", "subvolumes: {}\n")
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for path, want := range map[string]string{
		yaml:        yaml + ": not a .cue file: drsync reads CUE (convert YAML or JSON with `cue import`)",
		empty:       empty + ": no .cue files in directory",
		DefaultFile: "no drsync.cue here; name a desired-state file with -f FILE",
	} {
		if _, err := Read(path, nil, nil); err == nil || err.Error() != want {
			t.Errorf("Read(%s) = %v, want %q", path, err, want)
		}
	}
}

const fleet = `package drsync

root: *"" | string @tag(root)
_shared: stateDir: "\(root)/state"
hosts: {
	nas: _shared
	htpc: _shared & {root: "/other"}
}
`

func TestSelectHost(t *testing.T) {
	user, err := Read(writeFile(t, t.TempDir(), "fleet.cue", fleet), []string{"root=/sb"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if hosts, err := Hosts(user); err != nil || !slices.Equal(hosts, []string{"htpc", "nas"}) {
		t.Errorf("Hosts = %v, %v", hosts, err)
	}
	for host, wantRoot := range map[string]string{"nas": "/sb", "htpc": "/other"} {
		part, err := SelectHost(user, "fleet.cue", host)
		if err != nil {
			t.Fatal(err)
		}
		if root, _ := part.LookupPath(cue.ParsePath("root")).String(); root != wantRoot {
			t.Errorf("host %s: root %q, want %q (the fleet's unless the host declares its own)", host, root, wantRoot)
		}
	}
	for host, want := range map[string]string{
		"":    "fleet.cue declares hosts htpc, nas: choose one with --host",
		"nsa": `fleet.cue: host "nsa" is not declared (declared: htpc, nas)`,
	} {
		if _, err := SelectHost(user, "fleet.cue", host); err == nil || err.Error() != want {
			t.Errorf("SelectHost(%q) = %v, want %q", host, err, want)
		}
	}
}

// TestOneMachineIsNoFleet: a file without hosts is its own part.
func TestOneMachineIsNoFleet(t *testing.T) {
	user, err := Read(writeFile(t, t.TempDir(), "one.cue", "package drsync\nstateDir: \"/state\"\n"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if hosts, err := Hosts(user); hosts != nil || err != nil {
		t.Errorf("Hosts = %v, %v, want none", hosts, err)
	}
	if part, err := SelectHost(user, "one.cue", "nas"); err != nil || !part.Equals(user) {
		t.Errorf("SelectHost = %v, %v, want the file itself", part, err)
	}
}

func TestStrayFieldBesideHosts(t *testing.T) {
	p := writeFile(t, t.TempDir(), "fleet.cue", fleet+"tiers: {}\n")
	user, err := Read(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := p + ":9:1: tiers: a fleet file declares only hosts and root"
	if _, err := Hosts(user); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Hosts: %v, want %q…", err, want)
	}
	if _, err := SelectHost(user, p, "nas"); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("SelectHost: %v, want %q…", err, want)
	}
}
