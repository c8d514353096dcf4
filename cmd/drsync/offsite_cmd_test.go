package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/providers/s3"
	"github.com/drsync/drsync/providers/ssh"
	"github.com/drsync/drsync/schema"
)

func runDrsync(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

const offsiteDesired = `package drsync
tiers: "1": {rpo: "7d", rto: "1h"}
locations: {
	home: path: "/snap"
	backups: path: "/var/backups/drsync"
}
subvolumes: home: {tier: "1", source: "/home", snapshots: {location: "home", schedule: "daily 02:00", retention: daily: 7}
	offsite: backuphost: {schedule: "daily 03:00", retention: daily: 7}}
services: "grafana-db": {kind: "sqlite", database: "/grafana.db", tier: "1", location: "backups", schedule: "daily 01:00",
	retention: daily: 7, offsite: bucket: retention: daily: 30}
targets: backuphost: {kind: "ssh", host: "backup.example.net", identityFile: "/etc/drsync/id_ed25519",
	knownHosts: "/etc/drsync/known_hosts", path: "/srv/drsync o'brien"}
`

func TestOffsiteFilterCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "drsync.cue")
	os.WriteFile(file, []byte(offsiteDesired+`targets: bucket: {kind: "s3", endpoint: "http://127.0.0.1:1", bucket: "b-b", credentialsFile: "/c", plaintext: "I accept plaintext off-site"}`), 0o644)
	out, stderr, code := runDrsync(t, "offsite", "filter", "backuphost", "-f", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if out != string(ssh.Filter("backuphost", "/srv/drsync o'brien")) {
		t.Error("the printed filter is not the generated one")
	}
	// The shell the host runs it with accepts it, and the root (with a
	// space and a quote) arrives intact.
	script := filepath.Join(dir, "filter")
	os.WriteFile(script, []byte(out), 0o755)
	if b, err := exec.Command("sh", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v: %s", err, b)
	}
	cmd := exec.Command(script)
	cmd.Env = []string{"SSH_ORIGINAL_COMMAND=drsync probe", "PATH=/usr/bin:/bin"}
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "/srv/drsync o'brien") {
		t.Errorf("probe of a missing root: %v %s; want stat to name the root intact", err, b)
	}
	pub := filepath.Join(dir, "id.pub")
	os.WriteFile(pub, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmYZvq8mqjJFeYV8TwWcxK3mdhNl7cW8wvOQd/2uJlS drsync@htpc\n"), 0o644)
	out, _, code = runDrsync(t, "offsite", "filter", "backuphost", "-f", file, "--public-key", pub)
	if want := `restrict,command="/usr/local/libexec/drsync-ssh-filter" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmYZvq8mqjJFeYV8TwWcxK3mdhNl7cW8wvOQd/2uJlS drsync@htpc` + "\n"; code != 0 || out != want {
		t.Errorf("authorized_keys line %q (exit %d), want %q", out, code, want)
	}
	if _, stderr, code := runDrsync(t, "offsite", "filter", "bucket", "-f", file); code != 1 || !strings.Contains(stderr, `"bucket" is not an ssh target`) {
		t.Errorf("filter of an s3 target: exit %d, %s", code, stderr)
	}
}

func TestOffsiteListCommand(t *testing.T) {
	if _, err := s3.Versitygw(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	srv, err := s3.StartServer(t.Context(), dir, promtest.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Kill() })
	id, _ := age.GenerateX25519Identity()
	file := filepath.Join(dir, "drsync.cue")
	os.WriteFile(file, []byte(offsiteDesired+`targets: bucket: {kind: "s3", endpoint: "`+srv.Endpoint+`", bucket: "mcp-backups",
	credentialsFile: "`+srv.Credentials+`", encryption: recipients: ["`+id.Recipient().String()+`"]}
`), 0o644)
	d, err := schema.Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The bucket is missing: a problem to fix, not deferred.
	out, _, code := runDrsync(t, "offsite", "list", "bucket", "-f", file)
	if code != 1 || !strings.Contains(out, "bucket mcp-backups does not exist") {
		t.Errorf("missing bucket: exit %d, %s", code, out)
	}
	creds, _ := os.ReadFile(srv.Credentials)
	secret := strings.TrimSpace(strings.SplitN(string(creds), "secret_access_key = ", 2)[1])
	mc, err := minio.New(strings.TrimPrefix(srv.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4("drsync", secret, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.MakeBucket(t.Context(), "mcp-backups", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	tgt, err := s3.New("bucket", d.Targets["bucket"])
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "grafana-db.20261122T0100.tar.gz")
	os.WriteFile(archive, []byte("archive"), 0o600)
	sum := sha256.Sum256([]byte("archive"))
	os.WriteFile(archive+".sha256", []byte(hex.EncodeToString(sum[:])+"  grafana-db.20261122T0100.tar.gz\n"), 0o600)
	if _, err := tgt.UploadArchive(t.Context(), "grafana-db", archive, nil); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runDrsync(t, "offsite", "list", "bucket", "-f", file)
	if code != 0 || !strings.Contains(out, "service grafana-db\n    grafana-db.20261122T0100.tar.gz  complete") {
		t.Errorf("exit %d\n%s%s", code, out, stderr)
	}
	if strings.Contains(out+stderr, secret) {
		t.Error("the secret key reached the output")
	}
	// The ssh host does not resolve: unreachable is deferred, exit 0.
	out, _, code = runDrsync(t, "offsite", "list", "backuphost", "-f", file)
	if code != 0 || !strings.Contains(out, "unreachable, deferred") {
		t.Errorf("unreachable host: exit %d, %s", code, out)
	}
}
