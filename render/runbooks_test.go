package render

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestRunbooksContent(t *testing.T) {
	in := fixedInput(t)
	rbs, err := Runbooks(in)
	if err != nil {
		t.Fatal(err)
	}
	g := in.Desired.Generate
	for _, sc := range scenarios {
		md := string(rbs[sc.file])
		if md == "" {
			t.Fatalf("%s not rendered", sc.file)
		}
		for _, want := range []string{
			"# " + sc.id + ":", "**Severity:** " + sc.severity, "**RTO Target:**", "**RPO Target:**",
			"**Last Tested:**", "**Success Rate:**", "## Detection", "## Impact Assessment",
			"## Recovery Procedure", "## Verification Checklist", "## Rollback Plan", "## Estimated Timeline",
			g.DesiredFile,
		} {
			if !strings.Contains(md, want) {
				t.Errorf("%s lacks %q", sc.file, want)
			}
		}
		if strings.Contains(md, "<no value>") {
			t.Errorf("%s has an unresolved template field", sc.file)
		}
		if len(Commands([]byte(md))) == 0 {
			t.Errorf("%s has no drsync command", sc.file)
		}
	}
	dr001 := string(rbs[runbookSystem])
	for _, want := range []string{
		// htpc-root has nothing on record: said loudly, with the command to fix it.
		"**NEVER TESTED: htpc-root**",
		"sudo /usr/local/bin/drsync test --subvolume htpc-root -f /home/patriark/containers/config/drsync/homelab.cue",
		// real paths of the drive, its LUKS container and the snapshots
		"sudo cryptsetup open /dev/disk/by-label/WD-18TB-luks WD-18TB",
		"sudo mount /dev/mapper/WD-18TB /run/media/patriark/WD-18TB",
		"/run/media/patriark/WD-18TB/.snapshots/htpc-home",
		"`/home/patriark/.snapshots/htpc-home`",
		// evidence: htpc-home's drill took 25m against a 30m target
		"| htpc-home | 1 (Critical) | `/home` | 1w | 30m | 25m (drill of 2026-01-14) | within target | 2026-02-23 | passed | 5/5 tests passed (100%) | 2026-02-22 14:00 |",
	} {
		if !strings.Contains(dr001, want) {
			t.Errorf("DR-001 lacks %q", want)
		}
	}
	dr002 := string(rbs[runbookPool])
	for _, want := range []string{
		"**NEVER TESTED: subvol7-containers, subvol2-pics**",
		"RESTORE TEST FAILING: subvol3-opptak.**",
		"**ABOVE TARGET**",
		"3/4 tests passed (75%)",
		"**RTO Target:** 13h30m",
		"findmnt -no SOURCE --target /mnt/btrfs-pool/.snapshots",
	} {
		if !strings.Contains(dr002, want) {
			t.Errorf("DR-002 lacks %q", want)
		}
	}
	if strings.Contains(dr002, "htpc-home |") {
		t.Error("DR-002 restores a subvolume of the system disk")
	}
	dr003 := string(rbs[runbookDeletion])
	for _, want := range []string{
		`sudo /usr/local/bin/drsync find "$LOST" -f /home/patriark/containers/config/drsync/homelab.cue`,
		`sudo /usr/local/bin/drsync restore "$LOST" --from "$SNAP" --to /var/lib/drsync/scratch -f /home/patriark/containers/config/drsync/homelab.cue`,
		"`htpc-home.20260315T0200`",
	} {
		if !strings.Contains(dr003, want) {
			t.Errorf("DR-003 lacks %q", want)
		}
	}
	if !strings.Contains(string(rbs[runbookTotal]), "the RPO is unbounded") {
		t.Error("DR-004 does not say the RPO is unbounded without an off-site copy")
	}
}

// TestRunbookCommands lists the drsync subcommands the runbooks use: each
// must be one the CLI has (the lead's CLI tests parse every one).
func TestRunbookCommands(t *testing.T) {
	rbs, err := Runbooks(fixedInput(t))
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(rbs)) {
		for _, c := range Commands(rbs[name]) {
			if c[0] != "/usr/local/bin/drsync" || len(c) < 2 {
				t.Errorf("%s: odd command %q", name, c)
				continue
			}
			used[c[1]] = true
			if !slices.Contains(c, "-f") {
				t.Errorf("%s: %q does not name the desired state", name, c)
			}
		}
	}
	for _, sub := range []string{"validate", "list", "plan", "apply", "find", "restore", "test", "drill"} {
		if sub == "drill" {
			continue // drills are in the alerts, not in a disaster
		}
		if !used[sub] {
			t.Errorf("no runbook uses drsync %s", sub)
		}
	}
}

func TestCommands(t *testing.T) {
	md := "text drsync plan -f x\n" +
		"```bash\n" +
		"sudo /usr/local/bin/drsync restore \"$LOST\" --from 'a b' --to /tmp/x -f /etc/d.cue   # comment\n" +
		"drsync list \\\n  -f '/etc/my file.cue' | less\n" +
		"echo drsync plan\n" +
		"SNAP=$(ls -1 /x | tail -n 1)\n" +
		"```\n" +
		"> ```bash\n" +
		"> drsync test --subvolume a\\ b -f x; echo done\n" +
		"> ```\n"
	want := [][]string{
		{"/usr/local/bin/drsync", "restore", "$LOST", "--from", "a b", "--to", "/tmp/x", "-f", "/etc/d.cue"},
		{"drsync", "list", "-f", "/etc/my file.cue"},
		{"drsync", "test", "--subvolume", "a b", "-f", "x"},
	}
	got := Commands([]byte(md))
	if !slices.EqualFunc(got, want, slices.Equal[[]string]) {
		t.Errorf("Commands =\n%q\nwant\n%q", got, want)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/home/patriark/.snapshots": "/home/patriark/.snapshots",
		"/mnt/my disk":              "'/mnt/my disk'",
		"it's":                      `'it'\''s'`,
		"":                          "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
		if in != "" && strings.Join(shellWords(shellQuote(in)), "|") != in {
			t.Errorf("%q does not round-trip through shellWords", in)
		}
	}
}
