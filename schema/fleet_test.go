package schema

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFleetExample: every host of examples/desired/fleet validates, shares
// the tiers and alerting of #Shared, keeps its own subvolumes, and carries
// its name and the fleet's root.
func TestFleetExample(t *testing.T) {
	chdirRoot(t)
	const dir = "examples/desired/fleet"
	hosts, err := Hosts(dir, nil)
	if err != nil || !slices.Equal(hosts, []string{"htpc", "nas", "pi"}) {
		t.Fatalf("Hosts = %v, %v", hosts, err)
	}
	all, err := LoadFleet(dir, []string{"root=/sb"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"htpc": {"home"}, "nas": {"documents", "photos"}, "pi": {"etc"}}
	for h, subs := range want {
		d := all[h]
		if d == nil {
			t.Fatalf("host %s missing", h)
		}
		if !slices.Equal(d.SubvolumeNames(), subs) || d.Host != h || d.Root != "/sb" ||
			d.Tiers["critical"].RPO.Hours() != 24 || d.Alerting == nil || d.Pings["hc"].Kind != "healthchecks" {
			t.Errorf("host %s: subvolumes %v, host %q, root %q, tiers %v, alerting %v", h, d.SubvolumeNames(), d.Host, d.Root, d.Tiers, d.Alerting != nil)
		}
		if !strings.HasPrefix(d.StateDir, "/sb/") {
			t.Errorf("host %s: state dir %s not under the fleet's root", h, d.StateDir)
		}
	}
}

// TestFleetHostChoice: a fleet file needs a host; an unknown one is named
// with the declared ones.
func TestFleetHostChoice(t *testing.T) {
	chdirRoot(t)
	const dir = "examples/desired/fleet"
	if _, err := Load(dir, nil); err == nil || !strings.Contains(err.Error(), "declares hosts htpc, nas, pi: choose one with --host") {
		t.Errorf("Load without a host: %v", err)
	}
	if _, err := LoadHost(dir, nil, "nsa"); err == nil || !strings.Contains(err.Error(), `host "nsa" is not declared (declared: htpc, nas, pi)`) {
		t.Errorf("LoadHost of an unknown host: %v", err)
	}
	d, err := LoadHost(dir, nil, "nas")
	if err != nil || len(d.Subvolumes) != 2 {
		t.Errorf("LoadHost nas: %v", err)
	}
}

// TestFleetProblemsOfEveryHost: validate reports each host's problems in
// one pass, positioned in the user's file, each path naming its host; a
// regular field beside hosts is refused where it is written.
func TestFleetProblemsOfEveryHost(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"shared.cue", "htpc.cue", "nas.cue", "pi.cue"} {
		b, err := os.ReadFile(filepath.Join("../examples/desired/fleet", name))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		switch name {
		case "htpc.cue":
			s = strings.Replace(s, `tier: "critical"`, `tier: "critcal"`, 1)
		case "pi.cue":
			s = strings.Replace(s, `schedule: "daily 05:00"`, `schedule: "daily 25:00"`, 1)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := LoadFleet(dir, nil)
	if err == nil {
		t.Fatal("a fleet with two broken hosts validated")
	}
	msg := err.Error()
	for _, want := range []string{
		filepath.Join(dir, "htpc.cue") + ":", `hosts.htpc.subvolumes.home.tier: unknown tier "critcal"`,
		filepath.Join(dir, "pi.cue") + ":", "hosts.pi.subvolumes.etc.snapshots.schedule",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("fleet error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "hosts.nas") {
		t.Errorf("the sound host nas is blamed:\n%s", msg)
	}

	if err := os.WriteFile(filepath.Join(dir, "stray.cue"), []byte("package drsync\n\ntiers: x: {rpo: \"1d\", rto: \"1h\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadFleet(dir, nil)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "stray.cue")+":3:1: tiers: a fleet file declares only hosts and root") {
		t.Errorf("a stray top-level field: %v", err)
	}
}

// TestFleetHostsShareNoTarget: two hosts whose off-site copies would land
// in one bucket prefix (or one within the other) are refused, naming both;
// their own prefixes, or a prefix per host, are fine.
func TestFleetHostsShareNoTarget(t *testing.T) {
	host := func(name, prefix string) string {
		return `hosts: ` + name + `: _shared & {
	locations: snaps: path: "/srv/` + name + `/.snapshots"
	targets: offsite: {kind: "s3", endpoint: "https://s3.example.org", region: "r", bucket: "backups", prefix: "` + prefix + `",
		credentialsFile: "/etc/drsync/s3", encryption: recipients: ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]}
	subvolumes: etc: {tier: "standard", source: "/srv/` + name + `/etc",
		snapshots: {location: "snaps", schedule: "daily 05:00", retention: daily: 7}
		offsite: offsite: {schedule: "daily 06:00", retention: daily: 7}}
}
`
	}
	shared, err := os.ReadFile("../examples/desired/fleet/shared.cue")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		a, b string
		want string // "" when the fleet is sound
	}{
		{"fleet/", "fleet/", `hosts.pi.targets.offsite: stores its copies in bucket backups prefix "fleet/" at https://s3.example.org, where hosts.nas.targets.offsite stores too`},
		{"fleet/", "fleet/pi/", `hosts.pi.targets.offsite: stores its copies in bucket backups prefix "fleet/pi/"`},
		{"fleet/nas/", "fleet/pi/", ""},
		{"nas/", "nas-old/", ""},
	} {
		dir := t.TempDir()
		files := map[string]string{"shared.cue": string(shared), "nas.cue": "package drsync\n\n" + host("nas", tc.a), "pi.cue": "package drsync\n\n" + host("pi", tc.b)}
		for name, src := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := LoadFleet(dir, nil)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("prefixes %q and %q: %v", tc.a, tc.b, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("prefixes %q and %q: got %v, want %s", tc.a, tc.b, err, tc.want)
		}
	}
}
