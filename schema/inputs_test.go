package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// minimal declares one subvolume; %s is spliced into the file.
const minimal = `package drsync

root: *"" | string @tag(root)
locations: pool: path: "\(root)/pool/.snapshots"
tiers: "1": {rpo: "7d", rto: "1h"}
subvolumes: docs: {tier: "1", source: "\(root)/pool/docs",
	snapshots: {location: "pool", schedule: "daily 02:00", retention: daily: 7}}
`

func writeState(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNothingDeclaredIsAnError: an empty file, YAML and JSON all used to
// validate as "valid (0 subvolumes, ...)".
func TestNothingDeclaredIsAnError(t *testing.T) {
	for name, c := range map[string]struct{ file, content, want string }{
		"empty":      {"drsync.cue", "", "declares no subvolumes and no services"},
		"only tiers": {"drsync.cue", "package drsync\ntiers: \"1\": {rpo: \"7d\", rto: \"1h\"}\n", "declares no subvolumes and no services"},
		"yaml":       {"drsync.yaml", "subvolumes:\n  docs: {}\n", "not a .cue file"},
		"json":       {"drsync.json", `{"subvolumes": {}}`, "not a .cue file"},
	} {
		t.Run(name, func(t *testing.T) {
			p := writeState(t, c.file, c.content)
			_, err := Load(p, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("got %v, want an error naming %s: %q", err, p, c.want)
			}
		})
	}
}

// TestRootContainsEverything: with -t root=DIR, a path the file does not
// build from root is an error, not a write outside the sandbox.
func TestRootContainsEverything(t *testing.T) {
	p := writeState(t, "drsync.cue", minimal+`subvolumes: home: {tier: "1", source: "/home",
	snapshots: {location: "pool", schedule: "daily 02:00", retention: daily: 7}}
generate: runbooks: "/etc/drsync/runbooks"
`)
	if _, err := Load(p, nil); err != nil {
		t.Fatalf("without a root the real paths are meant: %v", err)
	}
	_, err := Load(p, []string{"root=/sb"})
	if err == nil {
		t.Fatal("loaded with a source and the runbooks outside root")
	}
	for _, want := range []string{"subvolumes.home.source: /home lies outside root /sb", "generate.runbooks: /etc/drsync/runbooks lies outside root /sb"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "docs") {
		t.Errorf("a path under root reported:\n%v", err)
	}
}

// TestUserDefaultWins: a field the schema gives a default may carry the
// user's own default (the pattern for tags with defaults); a tag still
// overrides it, and without either the schema's default applies.
func TestUserDefaultWins(t *testing.T) {
	svc := `services: prom: {kind: "prometheus", dataDir: "\(root)/prom", tier: "1", location: "pool",
	schedule: "hourly", retention: daily: 3
	%s}
`
	for _, c := range []struct {
		name, field string
		tags        []string
		want        string
	}{
		{"user default", `url: *"http://127.0.0.1:19391" | string @tag(prom_url)`, nil, "http://127.0.0.1:19391"},
		{"tag over user default", `url: *"http://127.0.0.1:19391" | string @tag(prom_url)`, []string{"prom_url=http://10.0.0.2:9090"}, "http://10.0.0.2:9090"},
		{"schema default", ``, nil, "http://localhost:9090"},
		{"tag without user default", `url: string @tag(prom_url)`, []string{"prom_url=http://10.0.0.3:9090"}, "http://10.0.0.3:9090"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := writeState(t, "drsync.cue", minimal+strings.Replace(svc, "%s", c.field, 1))
			d, err := Load(p, c.tags)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Services["prom"].URL; got != c.want {
				t.Errorf("url = %q, want %q", got, c.want)
			}
		})
	}
}

func TestParseRefusesZeroAndOverflow(t *testing.T) {
	for _, s := range []string{"every 0h", "every 0m", "every 00d"} {
		if _, err := ParseSchedule(s); err == nil {
			t.Errorf("ParseSchedule(%q) accepted a zero interval", s)
		}
	}
	for _, s := range []string{"106752d", "9223372036854775807s", "15251w", "100000000000000000000h"} {
		if _, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) accepted a duration beyond 290 years", s)
		}
	}
	if d, err := ParseDuration("106751d"); err != nil || d <= 0 {
		t.Errorf("ParseDuration(106751d) = %v, %v", d, err)
	}
}
