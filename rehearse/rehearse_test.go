package rehearse

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestProcedureStopsAtTheMarkerAndTheNextSection(t *testing.T) {
	md := []byte("# DR\n```bash\ndrsync test x\n```\n## Recovery Procedure\n```bash\nsudo drsync recover a -f f\n```\n" +
		"<!-- rehearse: stop here -->\n### Step 5: Return to Service\n```bash\ndrsync apply -f f\n```\n")
	got := string(procedure(md))
	if !strings.Contains(got, "recover a") || strings.Contains(got, "apply") || strings.Contains(got, "test x") {
		t.Errorf("procedure: %q", got)
	}
	md = []byte("# DR\n## Recovery Procedure\n```bash\ndrsync find x\n```\n## Verification Checklist\n```bash\ndrsync list\n```\n")
	if got := string(procedure(md)); !strings.Contains(got, "find x") || strings.Contains(got, "list") {
		t.Errorf("procedure: %q", got)
	}
	if procedure([]byte("# no procedure")) != nil {
		t.Error("a runbook without a procedure has commands")
	}
}

func TestExpandFillsTheRunbooksVariablesOrNamesTheMissingOne(t *testing.T) {
	vars := map[string]string{"LOST": "/pool/docs/a b.txt", "SNAP": "docs.20261204T0200"}
	got, err := expand([]string{"restore", "$LOST", "--from", "${SNAP}"}, vars)
	if err != nil || !slices.Equal(got, []string{"restore", "/pool/docs/a b.txt", "--from", "docs.20261204T0200"}) {
		t.Errorf("expand: %q %v", got, err)
	}
	if _, err := expand([]string{"restore", "$LOST", "--to", "$LOST_DIR"}, vars); err == nil || !strings.Contains(err.Error(), "needs $LOST_DIR") {
		t.Errorf("missing variable: %v", err)
	}
}

func TestRecoverArgs(t *testing.T) {
	for _, c := range []struct {
		cmd        string
		names      []string
		to         string
		verifyOnly bool
	}{
		{"drsync recover htpc-root --to /mnt/newroot -f /etc/d.cue", []string{"htpc-root"}, "/mnt/newroot", false},
		{"drsync recover -f /etc/d.cue -t root=/x a b", []string{"a", "b"}, "", false},
		{"drsync recover --verify-only a -f f", []string{"a"}, "", true},
		{"drsync list -f f", nil, "", true},
	} {
		names, to, vo := recoverArgs(strings.Fields(c.cmd))
		if !slices.Equal(names, c.names) || to != c.to || vo != c.verifyOnly {
			t.Errorf("%s: %q %q %v", c.cmd, names, to, vo)
		}
	}
}

func TestNewestHolding(t *testing.T) {
	got, err := newestHolding([]byte(`[{"subvolume":"docs","path":"a","copies":[{"snapshot":"docs.20261203T0200"},{"snapshot":"docs.20261204T0200"},{"snapshot":"docs.20261202T0200"}]}]`))
	if err != nil || got != "docs.20261204T0200" {
		t.Errorf("newest: %q %v", got, err)
	}
	if _, err := newestHolding([]byte(`[]`)); err == nil {
		t.Error("nothing found, yet a snapshot")
	}
}

// TestTreeDigest: equal trees sum equal; content, mode and a symlink's
// target each change the sum; skipped directories do not count.
func TestTreeDigest(t *testing.T) {
	make := func() string {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "docs", ".snapshots", "docs.1"), 0o755)
		os.WriteFile(filepath.Join(dir, "docs", "a.txt"), []byte("first"), 0o644)
		os.Symlink("a.txt", filepath.Join(dir, "docs", "link"))
		return dir
	}
	sum := func(dir string) digest {
		t.Helper()
		d, err := treeDigest(dir, []string{"docs/.snapshots"})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b := make(), make()
	want := sum(a)
	os.WriteFile(filepath.Join(b, "docs", ".snapshots", "docs.1", "x"), []byte("not data"), 0o644)
	if got := sum(b); got != want || got.Bytes != 5 || got.Entries != 4 {
		t.Errorf("equal trees: %+v, want %+v", got, want)
	}
	for name, change := range map[string]func(string){
		"content": func(d string) { os.WriteFile(filepath.Join(d, "docs", "a.txt"), []byte("other"), 0o644) },
		"mode":    func(d string) { os.Chmod(filepath.Join(d, "docs", "a.txt"), 0o600) },
		"symlink": func(d string) {
			os.Remove(filepath.Join(d, "docs", "link"))
			os.Symlink("b.txt", filepath.Join(d, "docs", "link"))
		},
		"missing": func(d string) { os.Remove(filepath.Join(d, "docs", "a.txt")) },
	} {
		d := make()
		change(d)
		if sum(d).Sum == want.Sum {
			t.Errorf("%s changed, the sum did not", name)
		}
	}
}

func TestSandboxTagsReplaceTheUsersRootDriveAndPrometheus(t *testing.T) {
	file := filepath.Join(t.TempDir(), "d.cue")
	os.WriteFile(file, []byte(`uuid: string @tag(drive_uuid)
url: string @tag(prometheus_url)`), 0o644)
	got, err := sandboxTags(file, []string{"root=/home/me/real", "drive_uuid=4f1c2d3e", "prometheus_url=http://localhost:9090", "site=lab"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2] != "site=lab" || !strings.HasPrefix(got[0], "drive_uuid=") || got[0] == "drive_uuid=4f1c2d3e" ||
		!strings.HasPrefix(got[1], "prometheus_url=http://127.0.0.1:") {
		t.Errorf("sandbox tags: %q", got)
	}
}
