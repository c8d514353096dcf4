package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/providers/s3"
)

// offsiteServiceCUE declares a files service uploaded, encrypted, to an S3
// bucket and stopped and started by commands that log what they do.
const offsiteServiceCUE = `package drsync

root: *"" | string @tag(root)
_endpoint: string @tag(endpoint)
_credentials: string @tag(credentials)
_recipient: string @tag(recipient)
_identity: string @tag(identity)

stateDir: "\(root)/state"
restore: scratch: "\(root)/scratch"
generate: enabled: {metrics: false, alertRules: false, scrapeConfig: false, dashboard: false, systemd: false, runbooks: false}
locations: backups: path: "\(root)/backups"
tiers: "1": {rpo: "1d", rto: "1h", restoreTest: every: "1000d"}
targets: bucket: {kind: "s3", endpoint: _endpoint, bucket: "offsite", credentialsFile: _credentials,
	encryption: {recipients: [_recipient], identityFile: _identity}}
services: conf: {kind: "files", paths: ["\(root)/etc/app"], tier: "1", location: "backups", schedule: "daily 01:00",
	retention: daily: 7, offsite: bucket: retention: daily: 7,
	stop: ["/bin/sh", "-c", "echo stop >> \(root)/conf.log"], start: ["/bin/sh", "-c", "echo start >> \(root)/conf.log"]}
`

// TestRecoverServiceFromTarget is runbook DR-004 for a service: the
// machine's archives and journal are gone, only the bucket is left, and
// recover --from-target fetches the archive and restores it the way
// recover --from ARCHIVE does: stopped, the current data kept aside,
// restored, started, checked.
func TestRecoverServiceFromTarget(t *testing.T) {
	if _, err := s3.Versitygw(); err != nil {
		t.Skip(err)
	}
	ctx := t.Context()
	dir := t.TempDir()
	srv, err := s3.StartServer(ctx, t.TempDir(), promtest.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Kill() })
	if err := srv.CreateBucket(ctx, "offsite"); err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	identity := filepath.Join(dir, "offsite.agekey")
	root := filepath.Join(dir, "root")
	file := filepath.Join(dir, "desired.cue")
	conf := filepath.Join(root, "etc", "app", "config.yaml")
	os.MkdirAll(filepath.Dir(conf), 0o755)
	for path, data := range map[string]string{identity: id.String() + "\n", file: offsiteServiceCUE, conf: "listen: 1\n"} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tags := []string{"root=" + root, "endpoint=" + srv.Endpoint, "credentials=" + srv.Credentials,
		"recipient=" + id.Recipient().String(), "identity=" + identity}
	args := []string{"-f", file, "--storage", "dir"}
	for _, tag := range tags {
		args = append(args, "-t", tag)
	}
	drsync := func(wantCode int, a ...string) string {
		t.Helper()
		var out bytes.Buffer
		if code := run(append(a, args...), strings.NewReader(""), &out, &out); code != wantCode {
			t.Fatalf("drsync %s: exit %d, want %d\n%s", strings.Join(a, " "), code, wantCode, out.String())
		}
		return out.String()
	}
	if out := drsync(0, "apply", "--auto-approve"); !strings.Contains(out, "→ bucket") {
		t.Fatalf("apply does not upload the archive:\n%s", out)
	}

	// Total loss: the local archives and the journal are gone, and the
	// configuration was changed since the backup.
	for _, gone := range []string{"backups", "state"} {
		if err := os.RemoveAll(filepath.Join(root, gone)); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(conf, []byte("listen: 2 # changed after the backup\n"), 0o644)
	os.Remove(filepath.Join(root, "conf.log"))

	out := drsync(1, "recover", "conf", "--from-target", "bucket", "--auto-approve")
	if !strings.Contains(out, "--allow-unverified") {
		t.Errorf("recover without evidence and without --allow-unverified does not name the flag:\n%s", out)
	}
	out = drsync(0, "recover", "conf", "--from-target", "bucket", "--allow-unverified", "--auto-approve")
	t.Log(out)
	for _, want := range []string{"conf  (files) from conf.", "on bucket (the newest complete off-site copy",
		"+   fetch      bucket:conf.", "✓ fetch      conf", "✓ recovered conf from conf.", "(fetched from bucket)"} {
		if !strings.Contains(out, want) {
			t.Errorf("recover output lacks %q:\n%s", want, out)
		}
	}
	if b, _ := os.ReadFile(conf); string(b) != "listen: 1\n" {
		t.Errorf("after the recovery config.yaml is %q, want the archived configuration", b)
	}
	if log, _ := os.ReadFile(filepath.Join(root, "conf.log")); string(log) != "stop\nstart\n" {
		t.Errorf("conf's stop and start commands ran as %q, want stop then start", log)
	}
	kept, _ := filepath.Glob(filepath.Join(root, "etc", "app.pre-recover-*", "config.yaml"))
	if len(kept) != 1 {
		t.Fatalf("the current data is not kept aside: %v", kept)
	}
	if b, _ := os.ReadFile(kept[0]); !strings.Contains(string(b), "listen: 2") {
		t.Errorf("the kept-aside configuration holds %q, want the changed one", b)
	}
	fetched, _ := filepath.Glob(filepath.Join(root, "backups", "conf", "conf.*.tar.gz*"))
	if len(fetched) != 2 {
		t.Errorf("the fetched archive and its .sha256 are not in the archive directory: %v", fetched)
	}
	assertJournaled(t, file, tags, "conf", []string{"fetch", "restore", "stop", "keep-aside", "place", "start", "ready"})
	// The journal holding the evidence went with the machine: the
	// checklist says no copy is verified, and that the files match.
	if out := drsync(1, "recover", "--verify-only", "conf"); !strings.Contains(out, "which conf was recovered from") {
		t.Errorf("verify-only after the recovery:\n%s", out)
	}
}
