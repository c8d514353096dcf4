package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drsync/drsync/internal/shellwords"
)

const escapeDesired = `package drsync

root: *"" | string @tag(root)

stateDir: "\(root)/state"
generate: enabled: {metrics: false, alertRules: false, scrapeConfig: false, dashboard: false, systemd: false, runbooks: false}
locations: pool: path: "\(root)/pool/.snapshots"
tiers: "1": {rpo: "7d", rto: "1h", restoreTest: every: "1000d"}
subvolumes: docs: {tier: "1", source: "\(root)/pool/docs",
	snapshots: {location: "pool", schedule: "daily 02:00", retention: daily: 7}}
`

// TestHumanOutputEscapesControlCharacters gives a source a file whose name
// recolours the terminal, and one whose name a shell would split, then
// runs the commands that print file names: none may print a control
// character raw, and find's restore hint must paste into a shell as is.
func TestHumanOutputEscapesControlCharacters(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	evil := "evil\x1b[31mred\x1b]0;pwned\x07.txt"
	spaced := "my notes/it's here.txt"
	for name, content := range map[string]string{evil: "evil\n", spaced: "spaced\n", "plain.txt": "plain\n"} {
		p := filepath.Join(root, "pool", "docs", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "pool", ".snapshots"), 0o755); err != nil {
		t.Fatal(err)
	}
	desired := filepath.Join(dir, "desired.cue")
	if err := os.WriteFile(desired, []byte(escapeDesired), 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"-f", desired, "-t", "root=" + root, "--storage", "dir"}
	drsync := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(append(args, common...), strings.NewReader(""), &stdout, &stderr); code != 0 {
			t.Fatalf("drsync %q: exit %d\n%s%s", args, code, stdout.String(), stderr.String())
		}
		out := stdout.String() + stderr.String()
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("drsync %q printed a control character raw:\n%q", args, out)
		}
		return out
	}
	drsync("apply", "--auto-approve", "--now", "2026-11-20T03:30")
	const escaped = `evil\x1b[31mred\x1b]0;pwned\x07.txt`
	if out := drsync("test", "--verbose"); !strings.Contains(out, escaped) {
		t.Errorf("test --verbose does not list the file, escaped:\n%s", out)
	}
	if out := drsync("test", "--dry-run"); !strings.Contains(out, escaped) {
		t.Errorf("test --dry-run does not list the file, escaped:\n%s", out)
	}
	if out := drsync("find", evil); !strings.Contains(out, escaped) {
		t.Errorf("find does not name the file, escaped:\n%s", out)
	}
	out := drsync("find", spaced)
	_, hint, ok := strings.Cut(out, "restore one with: ")
	if !ok {
		t.Fatalf("find prints no restore hint:\n%s", out)
	}
	words := shellwords.Split(strings.TrimSpace(hint))
	if len(words) < 3 || words[2] != spaced || !strings.Contains(strings.Join(words, "\x00"), "-f\x00"+desired+"\x00") {
		t.Errorf("the restore hint does not read back as the path and file: %q", words)
	}
	if out := drsync("restore", evil, "--from", "docs.20261120T0330", "--to", filepath.Join(dir, "out")); !strings.Contains(out, escaped) {
		t.Errorf("restore does not name the file, escaped:\n%s", out)
	}
	drsync("list")

	saved := filepath.Join(dir, "my plans", "tonight's.plan")
	if err := os.MkdirAll(filepath.Dir(saved), 0o755); err != nil {
		t.Fatal(err)
	}
	out = drsync("plan", "-o", saved)
	if _, hint, ok := strings.Cut(out, "apply exactly it with: "); !ok || !slices.Equal(shellwords.Split(strings.TrimSpace(hint)), []string{"drsync", "apply", saved}) {
		t.Errorf("plan -o's hint does not read back as drsync apply %q:\n%s", saved, out)
	}
}
