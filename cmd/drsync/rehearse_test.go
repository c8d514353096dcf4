package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drsync/drsync/providers/s3"
	"github.com/drsync/drsync/sandbox"
)

// TestRehearseDR002 rehearses DR-002 on the homelab example on real
// loop-mounted btrfs: sandbox up, apply, the pool's sources and local
// snapshots destroyed, the runbook's drsync commands run, sandbox down.
func TestRehearseDR002(t *testing.T) {
	if err := sandbox.Available(); err != nil {
		t.Skip(err)
	}
	out := rehearse(t, "DR-002", "-f", filepath.Join("..", "..", "examples", "desired", "homelab.cue"))
	for _, name := range []string{"subvol1-docs", "subvol2-pics", "subvol3-opptak", "subvol7-containers"} {
		if !strings.Contains(out, "✓ recovered "+name+" from ") || !strings.Contains(out, name+"  PASS") {
			t.Errorf("%s was not recovered and checked:\n%s", name, out)
		}
	}
	if !strings.Contains(out, "Rehearsal DR-002: PASS") {
		t.Errorf("rehearsal:\n%s", out)
	}
}

// The same on plain directories, and the runbooks not rehearsed yet.
func TestRehearsePlain(t *testing.T) {
	out := rehearse(t, "DR-002", "-f", filepath.Join("..", "..", "testdata", "desired", "small.cue"), "--storage", "dir")
	if !strings.Contains(out, "✓ recovered docs") || !strings.Contains(out, "✓ recovered media") || !strings.Contains(out, "Rehearsal DR-002: PASS") {
		t.Errorf("rehearsal:\n%s", out)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"rehearse", "DR-003", "-f", "x.cue"}, nil, &stdout, &stderr); code != exitError ||
		!strings.Contains(stderr.String(), "only DR-002 and DR-004 can be rehearsed so far") {
		t.Errorf("rehearse DR-003: exit %d, %s", code, stderr.String())
	}
}

func rehearse(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	dir := t.TempDir()
	if code := run(append([]string{"rehearse", "--dir", dir}, args...), nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("rehearse %v: exit %d\n%s\n%s", args, code, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// TestRehearseDR004 rehearses a total loss on the homelab example: its
// subvolumes go to a real versitygw the sandbox starts, the machine's disks
// and the drive are lost, and the runbook's commands recover every
// subvolume from the S3 copies alone; the next off-site sends continue the
// chains incrementally.
func TestRehearseDR004(t *testing.T) {
	if err := sandbox.Available(); err != nil {
		t.Skip(err)
	}
	if _, err := s3.Versitygw(); err != nil {
		t.Skip(err)
	}
	out := rehearse(t, "DR-004", "-f", filepath.Join("..", "..", "examples", "desired", "homelab.cue"))
	for _, name := range []string{"htpc-home", "htpc-root", "subvol1-docs", "subvol2-pics", "subvol3-opptak", "subvol7-containers"} {
		if !strings.Contains(out, "✓ recovered "+name+" from ") {
			t.Errorf("%s was not recovered:\n%s", name, out)
		}
	}
	for _, name := range []string{"htpc-home", "subvol1-docs", "subvol2-pics", "subvol3-opptak", "subvol7-containers"} {
		if !strings.Contains(out, "✓ "+name+" → s3-secondary incremental from "+name+".") {
			t.Errorf("the next off-site send of %s is not incremental:\n%s", name, out)
		}
	}
	if !strings.Contains(out, "✓ fetched grafana-db's newest archive from s3-secondary") {
		t.Errorf("grafana-db's archive was not fetched:\n%s", out)
	}
	if !strings.Contains(out, "Rehearsal DR-004: PASS") {
		t.Errorf("rehearsal:\n%s", out)
	}
}
