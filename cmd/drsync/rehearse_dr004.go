package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/rehearse"
	"github.com/drsync/drsync/render"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/schema"
)

// runRehearseTotalLoss rehearses DR-004 (fire or theft: the machine and the
// drive are gone) on a sandbox of the desired state: sandbox up with its
// off-site servers, apply at the latest time every off-site send was due, the total
// loss staged (every source but "/", every local snapshot, the state
// directory with its journal, the service archives; the drive unmounted:
// gone), then the runbook's recover commands, and a week later a plan whose
// off-site sends must all continue the chains incrementally, and its apply.
// The off-site servers' filesystems survive, as another machine would; the
// desired state, the S3 credentials and the age identity are what a person
// keeps off the machine and brings back, so they stay in place.
func runRehearseTotalLoss(ctx context.Context, g *globalOptions, o rehearse.Options) error {
	const runbook = "DR-004"
	if g.storage != "btrfs" {
		return fmt.Errorf("rehearse %s: off-site copies are btrfs send streams: it needs loop-mounted btrfs, not --storage %s", runbook, g.storage)
	}
	start := time.Now()
	dir := o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "drsync-rehearse-")
		if err != nil {
			return err
		}
		dir = tmp
	}
	root, err := filepath.Abs(filepath.Join(dir, "root"))
	if err != nil {
		return err
	}
	file, err := filepath.Abs(o.File)
	if err != nil {
		return err
	}
	tags, err := sandboxServerTags(file, withoutTag(o.Tags, "root"))
	if err != nil {
		return err
	}
	step := demoRunner{g: g, file: file, root: root}.step
	if !o.Keep {
		defer func() {
			step("sandbox", "down", "--dir", root)
			if o.Dir == "" {
				os.RemoveAll(dir)
			}
		}()
	}
	if err := step(append([]string{"sandbox", "up", "--dir", root, "-f", file}, tagFlags(tags)...)...); err != nil {
		return err
	}
	d, tags, err := loadSandboxed(g, file, root, tags)
	if err != nil {
		return err
	}
	flags := append([]string{"-f", file}, tagFlags(tags)...)
	before := offsiteDueTime(d, time.Now(), -time.Hour)
	if err := step(append([]string{"apply", "--auto-approve", "--now", before.Format(time.RFC3339)}, flags...)...); err != nil {
		return fmt.Errorf("rehearse %s: the apply before the disaster failed: %w", runbook, err)
	}
	commands, err := totalLossCommands(d, root)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "\n== %s: the disaster: every source but /, every local snapshot, the journal, the service archives and the drive are gone; "+
		"the off-site servers' data, the desired state, the credentials and the age identity survive\n", runbook)
	if err := stageTotalLoss(ctx, g, d, root); err != nil {
		return fmt.Errorf("rehearse %s: staging the disaster: %w", runbook, err)
	}
	fmt.Fprintf(g.stdout, "\n== %s: the runbook's drsync commands, with the sandbox's flags and --auto-approve\n", runbook)
	fail := func(err error) error {
		fmt.Fprintf(g.stdout, "\nRehearsal %s: FAIL after %s: %v\n", runbook, time.Since(start).Round(time.Second), err)
		return exitCodeError{exitError}
	}
	var recovered []string
	for _, c := range commands {
		if err := step(append(append(slices.Clone(c), flags...), "--auto-approve")...); err != nil {
			return fail(err)
		}
		if d.Subvolumes[c[1]] != nil && !slices.Contains(c, "--to") {
			recovered = append(recovered, c[1])
		}
	}
	after := offsiteDueTime(d, before.Add(24*time.Hour), time.Hour)
	fmt.Fprintf(g.stdout, "\n== %s: the next off-site sends (at %s) continue the chains\n", runbook, after.Format(time.RFC3339))
	if err := nextSendsIncremental(g, flags, after, recovered); err != nil {
		return fail(err)
	}
	if err := step(append([]string{"apply", "--auto-approve", "--now", after.Format(time.RFC3339)}, flags...)...); err != nil {
		return fail(fmt.Errorf("the apply after the recovery: %w", err))
	}
	fmt.Fprintf(g.stdout, "\nRehearsal %s: PASS in %s (%s recovered from off-site copies alone, verified, next off-site sends incremental)\n",
		runbook, time.Since(start).Round(time.Second), humane.Count(len(commands), "recovery"))
	return nil
}

// sandboxServerTags adds the tags a sandbox of file needs to run beside a
// real machine: its own drive UUID, free ports for Prometheus and the S3
// server, where the file declares those tags.
func sandboxServerTags(file string, tags []string) ([]string, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("rehearse: %w", err)
	}
	tags = slices.Clone(tags)
	if strings.Contains(string(src), "@tag(drive_uuid)") {
		tags = append(tags, "drive_uuid="+sandbox.NewUUID())
	}
	if strings.Contains(string(src), "@tag(prometheus_url)") {
		t, err := freePrometheusTag()
		if err != nil {
			return nil, err
		}
		tags = append(tags, t)
	}
	s3, err := freeS3Tag(file)
	return append(tags, s3...), err
}

// loadSandboxed loads file as the sandbox at root serves it: with its root,
// the LUKS check off where the file allows it, and the recipient of the age
// identity the sandbox made.
func loadSandboxed(g *globalOptions, file, root string, tags []string) (*schema.Desired, []string, error) {
	tags = append(slices.Clone(tags), "root="+root)
	d, err := schema.Load(file, tags)
	if err != nil {
		return nil, nil, err
	}
	if dl, err := schema.Load(file, append(tags, luksOffTag)); err == nil {
		tags, d = append(tags, luksOffTag), dl
	}
	age, err := sandboxAgeTag(&globalOptions{file: file, stdout: g.stdout}, d, root, tags)
	if err != nil || age == "" {
		return d, tags, err
	}
	tags = append(tags, age)
	d, err = schema.Load(file, tags)
	return d, tags, err
}

// offsiteDueTime is the first time from from on (or, with step negative,
// back from it) when every subvolume's off-site schedule has a slot open
// for the snapshot taken then (a weekly send waits for its day); from
// itself when there is none within a month.
func offsiteDueTime(d *schema.Desired, from time.Time, step time.Duration) time.Time {
	for t := from.Truncate(time.Hour).Add(step + time.Minute); t.Sub(from).Abs() < 31*24*time.Hour; t = t.Add(step) {
		if offsiteDue(d, t) {
			return t
		}
	}
	return from
}

func offsiteDue(d *schema.Desired, t time.Time) bool {
	for _, name := range d.SubvolumeNames() {
		s := d.Subvolumes[name]
		for _, sends := range s.Offsite {
			taken := t
			if s.Snapshots.Schedule.Kind != "every" {
				taken = s.Snapshots.Schedule.Slot(t)
			}
			if sends.Schedule.Kind != "every" && sends.Schedule.Slot(t).Before(taken) {
				return false
			}
		}
	}
	return true
}

// totalLossCommands are the runbook's recover commands that read an
// off-site target, without the program. A source that is the sandbox's
// root (the example's "/") is recovered --to a new root inside it, as the
// runbook recovers "/" to /mnt/newroot.
func totalLossCommands(d *schema.Desired, root string) ([][]string, error) {
	books, err := render.Runbooks(render.Input{Desired: d, Now: time.Now()})
	if err != nil {
		return nil, err
	}
	var out [][]string
	for path, md := range books {
		if !strings.HasPrefix(filepath.Base(path), "DR-004") {
			continue
		}
		for _, c := range render.Commands(md) {
			if len(c) < 3 || c[1] != "recover" || !slices.Contains(c, "--from-target") {
				continue
			}
			c = c[1:]
			if i := slices.Index(c, "--to"); i >= 0 && i+1 < len(c) {
				c[i+1] = filepath.Join(root, c[i+1])
			} else if s := d.Subvolumes[c[1]]; s != nil && filepath.Clean(s.Source) == root {
				c = append(c, "--to", filepath.Join(root, "mnt", "newroot"))
			}
			if i := slices.Index(c, "--to"); i >= 0 {
				if err := os.MkdirAll(c[i+1], 0o755); err != nil {
					return nil, err
				}
			}
			// The runbook's -f names the real file; the sandbox's is added.
			if i := slices.Index(c, "-f"); i >= 0 && i+1 < len(c) {
				c = slices.Delete(c, i, i+2)
			}
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("rehearse DR-004: the runbook recovers nothing from an off-site target: declare one (targets:) and send to it (offsite:)")
	}
	return out, nil
}

// stageTotalLoss destroys what a fire takes: every local snapshot (and
// anything else named like one), then every source except the sandbox's
// root, the state directory, the services' archives; the drive is
// unmounted, as if it were gone.
func stageTotalLoss(ctx context.Context, g *globalOptions, d *schema.Desired, root string) error {
	st, err := newStorage(g)
	if err != nil {
		return err
	}
	names := d.SubvolumeNames()
	for _, name := range names {
		s := d.Subvolumes[name]
		snapDir := d.SnapshotDir(s.Snapshots.Location, name)
		entries, err := st.List(snapDir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Subvolume && strings.HasPrefix(e.Name, name+".") {
				if err := st.Delete(ctx, filepath.Join(snapDir, e.Name)); err != nil {
					return err
				}
			}
		}
	}
	// Deepest first: a source may hold another's snapshot directory.
	slices.SortFunc(names, func(a, b string) int {
		return strings.Count(d.Subvolumes[b].Source, "/") - strings.Count(d.Subvolumes[a].Source, "/")
	})
	for _, name := range names {
		if src := d.Subvolumes[name].Source; filepath.Clean(src) != root {
			if err := st.Delete(ctx, src); err != nil {
				return err
			}
		}
	}
	for _, name := range d.ServiceNames() {
		if err := os.RemoveAll(d.ArchiveDir(d.Services[name])); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(d.StateDir); err != nil {
		return err
	}
	for _, l := range d.Locations {
		if l.External {
			if err := unix.Unmount(l.Mount, 0); err != nil {
				return fmt.Errorf("the drive at %s: %w", l.Mount, err)
			}
		}
	}
	return nil
}

// nextSendsIncremental plans at the given time and checks that every
// recovered subvolume's off-site sends continue a chain (or send
// incrementally) rather than start over with a full stream.
func nextSendsIncremental(g *globalOptions, flags []string, at time.Time, recovered []string) error {
	var out, errOut bytes.Buffer
	args := append([]string{"plan", "--json", "--now", at.Format(time.RFC3339)}, flags...)
	if code := run(args, nil, &out, &errOut); code != exitOK && code != exitChanges {
		return fmt.Errorf("plan: exit %d: %s", code, errOut.String())
	}
	var p struct {
		Subvolumes []struct {
			Name    string `json:"name"`
			Actions []struct {
				Kind    string `json:"kind"`
				Offsite *struct {
					Target string `json:"target"`
					Parent string `json:"parent"`
				} `json:"offsite"`
			} `json:"actions"`
		} `json:"subvolumes"`
	}
	if err := json.Unmarshal(out.Bytes(), &p); err != nil {
		return fmt.Errorf("plan --json: %w", err)
	}
	sent := map[string]bool{}
	var errs []error
	for _, s := range p.Subvolumes {
		for _, a := range s.Actions {
			if a.Kind != "offsite-send" || a.Offsite == nil || !slices.Contains(recovered, s.Name) {
				continue
			}
			sent[s.Name] = true
			if a.Offsite.Parent == "" {
				errs = append(errs, fmt.Errorf("%s: the next send to %s is a full one", s.Name, a.Offsite.Target))
			} else {
				fmt.Fprintf(g.stdout, "  ✓ %s → %s incremental from %s\n", s.Name, a.Offsite.Target, a.Offsite.Parent)
			}
		}
	}
	for _, name := range recovered {
		if !sent[name] {
			errs = append(errs, fmt.Errorf("%s: no off-site send is planned at %s", name, at.Format(time.RFC3339)))
		}
	}
	return errors.Join(errs...)
}

// withoutTag drops key's value from tags: the sandbox sets its own.
func withoutTag(tags []string, key string) []string {
	var out []string
	for _, t := range tags {
		if k, _, _ := strings.Cut(t, "="); k != key {
			out = append(out, t)
		}
	}
	return out
}

func tagFlags(tags []string) []string {
	var out []string
	for _, t := range tags {
		out = append(out, "-t", t)
	}
	return out
}
