package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/providers/s3"
	"github.com/drsync/drsync/providers/ssh"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/statusview"
	"github.com/drsync/drsync/target"
)

// TestApplyOffsite applies testdata/desired/small.cue with docs also sent
// to a real versitygw (encrypted, chains of two) and a real sshd over a
// second loop-mounted btrfs, and a files service's archive uploaded to the
// bucket: the copies arrive, the plan is then empty,
// the next day's sends are incremental, and no plaintext reaches the bucket.
func TestApplyOffsite(t *testing.T) {
	if err := sandbox.Available(); err != nil {
		t.Skip(err)
	}
	if _, err := s3.Versitygw(); err != nil {
		t.Skip(err)
	}
	if _, err := os.Stat(ssh.SSHD); err != nil {
		t.Skip("sshd not installed (scripts/install-deps.sh installs openssh-server)")
	}
	ctx := t.Context()
	dir := t.TempDir()
	desired := filepath.Join(dir, "desired")
	os.Mkdir(desired, 0o755)
	small, err := os.ReadFile("../../testdata/desired/small.cue")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(desired, "small.cue"), small, 0o644)

	// The bucket.
	srv, err := s3.StartServer(ctx, t.TempDir(), promtest.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Kill() })
	creds, _ := os.ReadFile(srv.Credentials)
	secret := strings.TrimSpace(strings.SplitN(string(creds), "secret_access_key = ", 2)[1])
	mc, _ := minio.New(strings.TrimPrefix(srv.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4("drsync", secret, "")})
	if err := mc.MakeBucket(ctx, "mcp-backups", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	id, _ := age.GenerateX25519Identity()
	identity := filepath.Join(dir, "offsite.agekey")
	os.WriteFile(identity, []byte(id.String()+"\n"), 0o600)

	// The backup host.
	remoteFS := sandbox.TestFS(t, 256)
	remoteRoot := filepath.Join(remoteFS, "drsync")
	os.Mkdir(remoteRoot, 0o755)
	host, err := ssh.StartServer(ctx, t.TempDir(), remoteRoot, freePort(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = host.Stop() })
	h := host.Target

	os.WriteFile(filepath.Join(desired, "offsite.cue"), []byte(fmt.Sprintf(`package drsync
targets: {
	bucket: {kind: "s3", endpoint: %q, bucket: "mcp-backups", prefix: "monitoring/", credentialsFile: %q, fullEvery: 2,
		encryption: {recipients: [%q], identityFile: %q}}
	host: {kind: "ssh", host: %q, port: %d, identityFile: %q, knownHosts: %q, path: %q}
}
subvolumes: docs: offsite: {
	bucket: {schedule: "daily 03:00", retention: daily: 7, drill: every: "90d"}
	host: {schedule: "daily 03:00", retention: daily: 7}
}
locations: backups: path: "\(root)/backups"
services: notes: {kind: "files", paths: ["\(root)/pool/docs"], tier: "1", location: "backups", schedule: "daily 01:00",
	retention: daily: 7, offsite: bucket: retention: daily: 7}
`, srv.Endpoint, srv.Credentials, id.Recipient().String(), identity, h.Host, h.Port, h.IdentityFile, h.KnownHosts, remoteRoot)), 0o644)

	root := filepath.Join(dir, "root")
	uuid := sandbox.NewUUID()
	tags := []string{"root=" + root, "drive_uuid=" + uuid}
	d, err := schema.Load(desired, tags)
	if err != nil {
		t.Fatal(err)
	}
	layout, err := sandbox.LayoutFor(d, root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sandbox.Down(context.Background(), root) })
	if err := sandbox.Up(ctx, root, layout); err != nil {
		t.Fatal(err)
	}
	marker := []byte("PLAINTEXT-MARKER offsite e2e\n")
	os.WriteFile(filepath.Join(d.Subvolumes["docs"].Source, "marker.txt"), bytes.Repeat(marker, 100), 0o644)
	args := []string{"-f", desired, "-t", tags[0], "-t", tags[1]}
	drsync := func(a ...string) (int, string) {
		var out bytes.Buffer
		code := run(append(a, args...), strings.NewReader(""), &out, &out)
		return code, out.String()
	}

	code, out := drsync("apply", "--auto-approve", "--now", "2026-11-22T03:30:00Z")
	if code != 0 {
		t.Fatalf("apply: %d\n%s", code, out)
	}
	if !strings.Contains(out, "→ bucket") || !strings.Contains(out, "→ host") {
		t.Errorf("apply output does not show the off-site sends:\n%s", out)
	}
	// The same apply proves what it sent, as planned actions: a test from
	// each target, a drill from the bucket (DR-004), the archive's test.
	for _, want := range []string{"✓ offsite-test docs.20261122T0330", "✓ offsite-drill docs.20261122T0330", "✓ offsite-test notes.20261122T0330.tar.gz"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "✓ offsite-test docs"); n != 2 || strings.Contains(out, "✗") {
		t.Errorf("%d off-site tests of docs, want one per target, none failed:\n%s", n, out)
	}
	checkOffsiteStatus(t, drsync)
	bucket, err := s3.New("bucket", d.Targets["bucket"])
	if err != nil {
		t.Fatal(err)
	}
	sshHost := ssh.New("host", d.Targets["host"])
	restorable := func(tg target.Target) []string {
		t.Helper()
		copies, err := tg.List(ctx, "docs")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range copies {
			if c.Restorable() {
				names = append(names, c.Name)
			}
		}
		return names
	}
	first := "docs.20261122T0330"
	if got := restorable(bucket); !slices.Equal(got, []string{first}) {
		t.Errorf("bucket holds %v, want %s", got, first)
	}
	if got := restorable(sshHost); !slices.Equal(got, []string{first}) {
		t.Errorf("host holds %v, want %s", got, first)
	}
	archives, _, err := bucket.Archives(ctx, "notes")
	if err != nil || len(archives) != 1 || !archives[0].Restorable() || archives[0].Name != "notes.20261122T0330.tar.gz" {
		t.Errorf("service archives in the bucket: %+v %v", archives, err)
	}
	code, out = drsync("plan", "--detailed-exitcode", "--now", "2026-11-22T03:40:00Z")
	if code != 0 {
		t.Errorf("plan after apply: exit %d, want nothing to do\n%s", code, out)
	}

	// The next day: a new snapshot, sent incrementally to both.
	os.WriteFile(filepath.Join(d.Subvolumes["docs"].Source, "new.txt"), []byte("tuesday\n"), 0o644)
	code, out = drsync("apply", "--auto-approve", "--now", "2026-11-23T03:30:00Z")
	if code != 0 {
		t.Fatalf("second apply: %d\n%s", code, out)
	}
	second := "docs.20261123T0330"
	if got := restorable(sshHost); !slices.Equal(got, []string{first, second}) {
		t.Errorf("host holds %v", got)
	}
	chains, _, err := bucket.Chains(ctx, "docs")
	if err != nil {
		t.Fatal(err)
	}
	if len(chains) != 1 || len(chains[0].Manifest.Streams) != 2 || chains[0].Manifest.Streams[1].Parent != first {
		t.Errorf("chains %+v: want one chain, the second stream incremental from %s", chains, first)
	}
	// Restore tests from both targets pass, and catch a damaged stream.
	for _, tg := range []string{"bucket", "host"} {
		if code, out := drsync("offsite", "test", tg, "docs"); code != 0 || !strings.Contains(out, second+" from "+tg) || !strings.Contains(out, "pass") {
			t.Errorf("offsite test %s: exit %d\n%s", tg, code, out)
		}
	}
	streamFile := filepath.Join(srv.Data, "mcp-backups", chains[0].Manifest.Streams[1].Key)
	if data, err := os.ReadFile(streamFile); err != nil {
		t.Error(err)
	} else {
		data[len(data)/2] ^= 1
		os.WriteFile(streamFile, data, 0o644)
		if code, out := drsync("offsite", "test", "bucket", "docs"); code == 0 || !strings.Contains(out, "tampered") {
			t.Errorf("offsite test of a tampered stream: exit %d\n%s", code, out)
		}
	}
	var stored bytes.Buffer
	filepath.WalkDir(srv.Data, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			stored.Write(b)
		}
		return nil
	})
	if stored.Len() == 0 || bytes.Contains(stored.Bytes(), marker) {
		t.Errorf("the bucket holds %d bytes, plaintext found: %v", stored.Len(), bytes.Contains(stored.Bytes(), marker))
	}
}

// checkOffsiteStatus reads status --json: every copy off-site is verified
// by a passing test, the bucket's drill timed its restore and its
// verification apart.
func checkOffsiteStatus(t *testing.T, drsync func(...string) (int, string)) {
	t.Helper()
	code, out := drsync("status", "--json")
	var rows []statusview.Row
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil {
		t.Fatalf("status --json: %d %v\n%s", code, err, out)
	}
	want := map[string]int{"docs": 2, "notes": 1}
	for _, r := range rows {
		if len(r.Offsite) != want[r.Name] {
			t.Errorf("%s: %d off-site rows, want %d", r.Name, len(r.Offsite), want[r.Name])
		}
		for _, o := range r.Offsite {
			if o.LastTest == nil || o.LastTest.Result != "pass" || o.Verified == nil || o.LastTest.Location != o.Target {
				t.Errorf("%s on %s: last test %+v, verified %v", r.Name, o.Target, o.LastTest, o.Verified)
			}
			if r.Name == "docs" && o.Target == "bucket" {
				if dr := o.LastDrill; dr == nil || dr.Result != "pass" || dr.RestoreSeconds <= 0 || dr.VerifySeconds <= 0 || dr.Files == 0 {
					t.Errorf("drill from the bucket: %+v", dr)
				}
			}
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	var port int
	fmt.Sscanf(promtest.FreeAddr(t)[len("127.0.0.1:"):], "%d", &port)
	return port
}
