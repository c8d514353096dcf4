package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/rehearse"
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
	before := rehearse.OffsiteDueTime(d, time.Now(), -time.Hour)
	if err := step(append([]string{"apply", "--auto-approve", "--now", before.Format(time.RFC3339)}, flags...)...); err != nil {
		return fmt.Errorf("rehearse %s: the apply before the disaster failed: %w", runbook, err)
	}
	commands, err := rehearse.TotalLossCommands(d, root)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "\n== %s: the disaster: every source but /, every local snapshot, the journal, the service archives and the drive are gone; "+
		"the off-site servers' data, the desired state, the credentials and the age identity survive\n", runbook)
	st, err := newStorage(g)
	if err != nil {
		return err
	}
	if err := rehearse.StageTotalLoss(ctx, st, d, root); err != nil {
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
	after := rehearse.OffsiteDueTime(d, before.Add(24*time.Hour), time.Hour)
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

// nextSendsIncremental plans at the given time and checks that every
// recovered subvolume's off-site sends continue a chain (or send
// incrementally) rather than start over with a full stream.
func nextSendsIncremental(g *globalOptions, flags []string, at time.Time, recovered []string) error {
	var out, errOut bytes.Buffer
	args := append([]string{"plan", "--json", "--now", at.Format(time.RFC3339)}, flags...)
	if code := run(args, nil, &out, &errOut); code != exitOK && code != exitChanges {
		return fmt.Errorf("plan: exit %d: %s", code, errOut.String())
	}
	return rehearse.CheckIncremental(g.stdout, out.Bytes(), at, recovered)
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
