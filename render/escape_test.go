package render

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/drsync/drsync/render/internal/fixture"
)

// TestHeadersCannotInject renders the units and YAML files with paths
// holding a newline followed by a directive or a YAML key (the schema
// refuses such paths; rendering must not depend on that): no unit line may
// start with the injected directive, and every YAML file must decode to
// the same top-level keys and values as with plain paths.
func TestHeadersCannotInject(t *testing.T) {
	plain := fixture.Input(t)
	want, err := Files(plain)
	if err != nil {
		t.Fatal(err)
	}
	in := fixture.Input(t)
	g := &in.Desired.Generate
	g.DesiredFile = "/etc/drsync/drsync.cue\nExecStartPre=/bin/sh -c id\ngroups: []\ntests: []"
	g.Metrics = in.Desired.Generate.Metrics + "\nscrape_configs: []"
	g.Runbooks = "/etc/drsync/runbooks\nExecStartPre=/bin/true"
	files, err := Files(in)
	if err != nil {
		t.Fatal(err)
	}
	for path, b := range files {
		switch filepath.Ext(path) {
		case ".service", ".timer":
			for _, line := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(line, "ExecStartPre=") {
					t.Errorf("%s: injected line %q", path, line)
				}
			}
		case ".yml":
			var got, plainDoc map[string]any
			if err := yaml.Unmarshal(b, &got); err != nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			if err := yaml.Unmarshal(want[path], &plainDoc); err != nil {
				t.Fatal(err)
			}
			if k, pk := slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(plainDoc)); !slices.Equal(k, pk) {
				t.Errorf("%s: top-level keys %q, want %q", path, k, pk)
			}
			for _, key := range []string{"groups", "tests", "scrape_configs"} {
				if v, ok := got[key].([]any); ok && len(v) == 0 {
					t.Errorf("%s: %s emptied by a path", path, key)
				}
			}
		}
	}
}
