package runbook

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/internal/golden"
	"github.com/drsync/drsync/render/internal/fixture"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

func TestRunbooksContent(t *testing.T) {
	in := fixture.Input(t)
	rbs, err := Render(in)
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
	dr001 := string(rbs[System])
	for _, want := range []string{
		// htpc-root has nothing on record: said loudly, with the command to fix it.
		"**NEVER TESTED: htpc-root**",
		"sudo /usr/local/bin/drsync test --subvolume htpc-root -f /home/patriark/containers/config/drsync/homelab.cue",
		// real paths of the drive, its LUKS container and the snapshots
		"sudo cryptsetup open /dev/disk/by-label/WD-18TB-luks WD-18TB",
		"sudo mount /dev/mapper/WD-18TB /run/media/patriark/WD-18TB",
		"/run/media/patriark/WD-18TB/.snapshots/htpc-home",
		"`/home/patriark/.snapshots/htpc-home`",
		// evidence: htpc-home's drill restored in 19m (the RTO, against a 30m
		// target), then verified for 6m
		"| htpc-home | 1 (Critical) | `/home` | 1w | 30m | 19m restore, then 6m verifying (drill of 2026-01-14) | within target | 2026-02-23 | passed | 5/5 tests passed (100%) | 2026-02-22 14:00 |",
	} {
		if !strings.Contains(dr001, want) {
			t.Errorf("DR-001 lacks %q", want)
		}
	}
	dr002 := string(rbs[Pool])
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
	dr003 := string(rbs[Deletion])
	for _, want := range []string{
		`sudo /usr/local/bin/drsync find "$LOST" -f /home/patriark/containers/config/drsync/homelab.cue`,
		`sudo /usr/local/bin/drsync restore "$LOST" --from "$SNAP" --to /var/lib/drsync/scratch -f /home/patriark/containers/config/drsync/homelab.cue`,
		"`htpc-home.20260315T0200`",
	} {
		if !strings.Contains(dr003, want) {
			t.Errorf("DR-003 lacks %q", want)
		}
	}
	dr004 := string(rbs[Total])
	for _, want := range []string{
		"**Off-site copies exist on s3-secondary**",
		"sudo /usr/local/bin/drsync recover htpc-home --from-target s3-secondary --allow-unverified -f /home/patriark/containers/config/drsync/homelab.cue",
		"sudo /usr/local/bin/drsync recover htpc-root --from-target s3-secondary --allow-unverified --to /mnt/newroot -f",
		"sudo /usr/local/bin/drsync recover grafana-db --from-target s3-secondary --allow-unverified -f",
		"`/etc/drsync/offsite.agekey`",
	} {
		if !strings.Contains(dr004, want) {
			t.Errorf("DR-004 lacks %q", want)
		}
	}
}

// Without an off-site target, DR-004 says plainly that a total loss is
// not recoverable.
func TestRunbookTotalLossWithoutOffsite(t *testing.T) {
	in := fixture.Input(t)
	d := *in.Desired
	d.Targets = nil
	in.Desired = &d
	rbs, err := Render(in)
	if err != nil {
		t.Fatal(err)
	}
	dr004 := string(rbs[Total])
	if !strings.Contains(dr004, "the RPO is unbounded") || strings.Contains(dr004, "--from-target") {
		t.Error("DR-004 without an off-site target does not say the RPO is unbounded, or recovers from a target")
	}
}

// TestRunbookCommands lists the drsync subcommands the runbooks use: each
// must be one the CLI has (the lead's CLI tests parse every one).
func TestRunbookCommands(t *testing.T) {
	rbs, err := Render(fixture.Input(t))
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

// runbookShapes are desired states unlike the example, with no evidence
// recorded yet: their runbooks must still read sensibly.
var runbookShapes = map[string]func(d *schema.Desired){
	// No subvolume has source "/": DR-001 restores nothing.
	"no-system-disk": func(d *schema.Desired) { delete(d.Subvolumes, "htpc-root") },
	"no-drive": func(d *schema.Desired) {
		for _, s := range d.Subvolumes {
			s.External = nil
		}
		for _, s := range d.Services {
			s.External = nil
		}
		delete(d.Locations, "WD-18TB")
	},
	"services-only": func(d *schema.Desired) { d.Subvolumes = map[string]*schema.Subvolume{} },
	// One subvolume, one tier, on the system disk.
	"one-subvolume": func(d *schema.Desired) {
		for name := range d.Subvolumes {
			if name != "htpc-root" {
				delete(d.Subvolumes, name)
			}
		}
	},
}

// TestRunbookShapesGolden renders the runbooks of each shape, before any
// run, against golden files, and checks them for the phrases that read
// wrong in such states.
func TestRunbookShapesGolden(t *testing.T) {
	for shape, mutate := range runbookShapes {
		t.Run(shape, func(t *testing.T) {
			in := view.Input{Desired: fixture.Homelab(t), Now: fixture.Now}
			mutate(in.Desired)
			rbs, err := Render(in)
			if err != nil {
				t.Fatal(err)
			}
			for name, got := range rbs {
				bad := []string{"**RTO Target:** \n", "**RTO Target:**  (", "**RPO Target:** 0s", "the run of before"}
				if shape == "one-subvolume" {
					bad = append(bad, "the loosest tier below", "restored one after another")
				}
				for _, b := range bad {
					if strings.Contains(string(got), b) {
						t.Errorf("%s reads %q", name, b)
					}
				}
				golden.Check(t, filepath.Join(fixture.GoldenDir, "shapes", shape, name), got)
			}
		})
	}
}

// TestRunbookCommandsQuoted renders the runbooks with paths a shell would
// split or expand, and reads every drsync command back as a shell would:
// each must call the declared binary with the declared desired state.
func TestRunbookCommandsQuoted(t *testing.T) {
	in := fixture.Input(t)
	d := in.Desired
	d.Generate.Binary = "/opt/dr sync/bin/drsync"
	d.Generate.DesiredFile = `/etc/my conf/it's $HOME (1).cue`
	d.Restore.Scratch = "/var/tmp/my scratch"
	rbs, err := Render(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(rbs)) {
		cmds := Commands(rbs[name])
		if len(cmds) == 0 {
			t.Errorf("%s: no drsync command found", name)
		}
		for _, c := range cmds {
			if c[0] != d.Generate.Binary {
				t.Errorf("%s: a shell runs %q, not the binary %q", name, c[0], d.Generate.Binary)
			}
			if i := slices.Index(c, "-f"); i < 0 || i+1 == len(c) || c[i+1] != d.Generate.DesiredFile {
				t.Errorf("%s: %q does not pass -f %q", name, c, d.Generate.DesiredFile)
			}
			// A file restore goes to scratch, or back where it was lost,
			// never over anything (no --force); recover --to is a new root
			// on purpose.
			if i := slices.Index(c, "--to"); i >= 0 && c[1] == "restore" && !strings.HasPrefix(c[i+1], d.Restore.Scratch) &&
				(c[i+1] != "$LOST_DIR" || slices.Contains(c, "--force")) {
				t.Errorf("%s: %q restores outside the scratch %q", name, c, d.Restore.Scratch)
			}
		}
	}
}

// TestRunbookServicesInTheirSubvolumes: a runbook lists the services whose
// data lies in the subvolumes it restores, with the command that puts
// their newest verified archive in place, and its coverage table has a row
// for each copy of their archives; a runbook whose subvolumes hold none of
// their data has neither (the example's services live in /home: DR-001,
// not DR-002).
func TestRunbookServicesInTheirSubvolumes(t *testing.T) {
	in := fixture.Input(t)
	d := in.Desired
	const svc = "app-db"
	tier := d.Tiers[d.Services[svc].Tier]
	tier.RestoreTest.Coverage = &schema.Duration{Duration: 90 * 24 * time.Hour}
	d.Tiers[d.Services[svc].Tier] = tier
	in.Subvolumes = maps.Clone(in.Subvolumes)
	in.Subvolumes[svc] = view.SubvolumeStatus{Coverage: []view.CopyCoverage{
		{Location: "WD-18TB", External: true, Files: 1, VerifiedFiles: 1, Bytes: 1 << 20, VerifiedBytes: 1 << 19}}}
	rbs, err := Render(in)
	if err != nil {
		t.Fatal(err)
	}
	system, pool := string(rbs[System]), string(rbs[Pool])
	command := "`sudo /usr/local/bin/drsync recover app-db -f " + d.Generate.DesiredFile + "`"
	row := "| app-db | WD-18TB | 90d | verified within 90d: 100% of files, 50% of bytes ("
	for _, want := range []string{"| app-db | sqlite | htpc-home | " + command + " |", row} {
		if !strings.Contains(system, want) {
			t.Errorf("DR-001 lacks %q", want)
		}
		if strings.Contains(pool, want) {
			t.Errorf("DR-002 has %q, though no pool subvolume holds the service's data", want)
		}
	}
	if cmds := Commands(rbs[System]); slices.ContainsFunc(cmds, func(c []string) bool { return slices.Contains(c, svc) }) {
		t.Error("the service's command is in a code block, which a rehearsal would run")
	}
}
