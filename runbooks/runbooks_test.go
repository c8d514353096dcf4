package runbooks

import (
	"io/fs"
	"slices"
	"testing"
	"text/template"
)

// TestTemplates checks the four scenarios are embedded and parse; render
// executes them with real data.
func TestTemplates(t *testing.T) {
	names, err := fs.Glob(FS, "*.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"DR-001-system-ssd-failure.md.tmpl",
		"DR-002-btrfs-pool-corruption.md.tmpl",
		"DR-003-accidental-deletion.md.tmpl",
		"DR-004-total-catastrophe.md.tmpl",
		"_common.tmpl",
		"_offsite.tmpl",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("templates %q, want %q", names, want)
	}
	funcs := template.FuncMap{"sh": func(s string) string { return s }, "join": func([]string, string) string { return "" }}
	if _, err := template.New("").Funcs(funcs).ParseFS(FS, "*.tmpl"); err != nil {
		t.Fatal(err)
	}
}
