package offsite_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/providers/s3"
	"github.com/drsync/drsync/providers/ssh"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/sandbox/offsite"
	"github.com/drsync/drsync/schema"
)

// TestStartServesTargets brings up an ssh and an s3 target declared under
// a sandbox, reaches both through drsync's own clients, and checks that
// Down stops the servers; a target on a real address is left alone.
func TestStartServesTargets(t *testing.T) {
	if err := sandbox.Available(); err != nil {
		t.Skip(err)
	}
	if _, err := s3.Versitygw(); err != nil {
		t.Skip(err)
	}
	if _, err := os.Stat(ssh.SSHD); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	port, _ := strconv.Atoi(strings.TrimPrefix(promtest.FreeAddr(t), "127.0.0.1:"))
	d := &schema.Desired{Targets: map[string]schema.Target{
		"bucket": {Kind: schema.TargetS3, Endpoint: "http://" + promtest.FreeAddr(t), Region: "eu-north-1", Bucket: "backups",
			CredentialsFile: filepath.Join(dir, "etc", "s3.credentials"),
			Encryption:      &schema.Encryption{IdentityFile: filepath.Join(dir, "etc", "offsite.agekey")}},
		"host": {Kind: schema.TargetSSH, Host: "127.0.0.1", Port: port, User: "root", Path: filepath.Join(dir, "srv", "drsync"),
			IdentityFile: filepath.Join(dir, "etc", "id_ed25519"), KnownHosts: filepath.Join(dir, "etc", "known_hosts")},
		"real": {Kind: schema.TargetS3, Endpoint: "https://s3.eu-north-1.amazonaws.com", Bucket: "b",
			CredentialsFile: filepath.Join(dir, "etc", "real.credentials")},
	}}
	if got := offsite.ServedTargets(d, dir); strings.Join(got, " ") != "bucket host" {
		t.Fatalf("served %v, want bucket and host", got)
	}
	if err := sandbox.Up(t.Context(), dir, sandbox.Layout{Filesystems: offsite.Filesystems(d, dir)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sandbox.Down(context.Background(), dir) })
	notes, err := offsite.Start(t.Context(), dir, d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(notes, "\n"), "off-site target real is not served by the sandbox") {
		t.Errorf("notes: %v", notes)
	}
	bucket, err := s3.New("bucket", withRecipient(t, d.Targets["bucket"]))
	if err != nil {
		t.Fatal(err)
	}
	if err := bucket.Probe(t.Context()); err != nil {
		t.Errorf("s3 target: %v", err)
	}
	if err := ssh.New("host", d.Targets["host"]).Probe(t.Context()); err != nil {
		t.Errorf("ssh target: %v", err)
	}
	pids := servers(t, dir)
	if len(pids) != 2 {
		t.Fatalf("%d servers recorded, want 2", len(pids))
	}
	if err := sandbox.Down(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("server %d still runs after Down", pid)
		}
	}
}

// withRecipient declares the sandbox's identity as the target's recipient.
func withRecipient(t *testing.T, tg schema.Target) schema.Target {
	r, err := offsite.AgeRecipient(tg.Encryption.IdentityFile)
	if err != nil {
		t.Fatal(err)
	}
	tg.Encryption = &schema.Encryption{Recipients: []string{r}, IdentityFile: tg.Encryption.IdentityFile}
	return tg
}

func servers(t *testing.T, dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, ".drsync-sandbox-pids"))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		pids = append(pids, pid)
	}
	return pids
}
