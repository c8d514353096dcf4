// Package offsite stands in for a sandboxed desired state's off-site
// targets: a versitygw for each s3 target, an sshd for each ssh target,
// each over a filesystem of its own that a rehearsed total loss leaves.
package offsite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"filippo.io/age"

	"github.com/drsync/drsync/providers/s3"
	"github.com/drsync/drsync/providers/ssh"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/schema"
)

// Dir is where, below the sandbox, the S3 servers keep their
// buckets: a filesystem of its own, standing in for another machine, so a
// rehearsed total loss of the sandbox's disks (runbook DR-004) leaves it.
const Dir = ".offsite"

const offsiteSizeMiB = 4096

// Filesystems are the filesystems the desired state's off-site
// targets need in a sandbox: one for the S3 servers' data, and one at each
// ssh target's path (the backup host's btrfs). Targets a sandbox does not
// serve (see ServedTargets) get none.
func Filesystems(d *schema.Desired, dir string) []sandbox.Filesystem {
	var out []sandbox.Filesystem
	s3Served := false
	for _, name := range ServedTargets(d, dir) {
		t := d.Targets[name]
		switch t.Kind {
		case schema.TargetS3:
			s3Served = true
		case schema.TargetSSH:
			out = append(out, sandbox.Filesystem{MountPoint: filepath.Clean(t.Path), Label: "offsite-" + name, SizeMiB: offsiteSizeMiB})
		}
	}
	if s3Served {
		out = append(out, sandbox.Filesystem{MountPoint: filepath.Join(dir, Dir), Label: "offsite-s3", SizeMiB: offsiteSizeMiB})
	}
	return out
}

// ServedTargets are the targets a sandbox can stand in for: an s3 endpoint
// or ssh host on a loopback address, with its credentials, keys and paths
// under the sandbox. Any other target stays what it is (a real server the
// sandbox never writes to; without its credentials there, unreachable).
func ServedTargets(d *schema.Desired, dir string) []string {
	var out []string
	for _, name := range d.TargetNames() {
		if servedWhy(d.Targets[name], dir) == nil {
			out = append(out, name)
		}
	}
	return out
}

func servedWhy(t schema.Target, dir string) error {
	var files []string
	switch t.Kind {
	case schema.TargetS3:
		u, err := url.Parse(t.Endpoint)
		if err != nil || u.Scheme != "http" || !loopback(u.Host) {
			return fmt.Errorf("endpoint %s is not http on a loopback address", t.Endpoint)
		}
		files = []string{t.CredentialsFile}
		if t.Encryption != nil {
			files = append(files, t.Encryption.IdentityFile)
		}
	case schema.TargetSSH:
		if !loopback(net.JoinHostPort(t.Host, strconv.Itoa(t.Port))) {
			return fmt.Errorf("host %s is not a loopback address", t.Host)
		}
		files = []string{t.IdentityFile, t.KnownHosts, t.Path}
	default:
		return fmt.Errorf("kind %s", t.Kind)
	}
	for _, f := range files {
		if f == "" || !sandbox.Within(dir, filepath.Clean(f)) {
			return fmt.Errorf("%q lies outside the sandbox", f)
		}
	}
	return nil
}

func loopback(hostPort string) bool {
	h, _, err := net.SplitHostPort(hostPort)
	return err == nil && (h == "localhost" || net.ParseIP(h).IsLoopback())
}

// Start starts a server for each target the sandbox serves: a
// versitygw over the off-site filesystem, with the bucket made, its
// credentials written to the declared credentialsFile and, where the
// declared identityFile is missing, a new age identity there; an sshd over
// the target's path, with the declared identity file, known_hosts and the
// generated forced-command filter. Down stops them.
func Start(ctx context.Context, dir string, d *schema.Desired) ([]string, error) {
	var notes []string
	for _, name := range d.TargetNames() {
		t := d.Targets[name]
		if err := servedWhy(t, dir); err != nil {
			notes = append(notes, fmt.Sprintf("off-site target %s is not served by the sandbox (%v): its work is deferred", name, err))
			continue
		}
		var err error
		switch t.Kind {
		case schema.TargetS3:
			err = startS3(ctx, dir, name, t)
		case schema.TargetSSH:
			err = startSSH(ctx, dir, name, t)
		}
		if err != nil {
			return notes, fmt.Errorf("sandbox target %s: %w", name, err)
		}
		notes = append(notes, fmt.Sprintf("serving off-site target %s (%s) at %s", name, t.Kind, cmpOr(t.Endpoint, net.JoinHostPort(t.Host, strconv.Itoa(t.Port)))))
	}
	return notes, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func startS3(ctx context.Context, dir, name string, t schema.Target) error {
	u, _ := url.Parse(t.Endpoint)
	srv, err := s3.StartServerIn(ctx, filepath.Join(dir, Dir, name), u.Host, t.Region)
	if err != nil {
		return err
	}
	if err := sandbox.RecordStarted(dir, srv.Cmd()); err != nil {
		_ = srv.Kill()
		return err
	}
	if err := srv.CreateBucket(ctx, t.Bucket); err != nil {
		return err
	}
	if err := copyPrivate(srv.Credentials, t.CredentialsFile); err != nil {
		return err
	}
	if t.Encryption == nil {
		return nil
	}
	return ensureAgeIdentity(t.Encryption.IdentityFile)
}

// ensureAgeIdentity writes a new age identity to path unless one is there.
func ensureAgeIdentity(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return nil
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(id.String()+"\n"), 0o600)
}

// AgeRecipient is the recipient of the age identity in path (the first),
// which a sandboxed desired state must encrypt to.
func AgeRecipient(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return "", fmt.Errorf("age identity %s: %w", path, err)
	}
	x, ok := ids[0].(*age.X25519Identity)
	if !ok {
		return "", fmt.Errorf("age identity %s: not an X25519 identity", path)
	}
	return x.Recipient().String(), nil
}

// AgeTag is the tag that makes file's encrypted S3 targets, served by the
// sandbox at dir, encrypt to the identity the sandbox made
// ("age_recipient=…", which the example reads), loaded with tags; "" when
// every target already does. When file does not take the tag, note says
// that restores from the target will fail.
func AgeTag(file string, d *schema.Desired, dir string, tags []string) (tag, note string, err error) {
	for _, name := range ServedTargets(d, dir) {
		t := d.Targets[name]
		if t.Kind != schema.TargetS3 || t.Encryption == nil {
			continue
		}
		r, err := AgeRecipient(t.Encryption.IdentityFile)
		if err != nil {
			return "", "", err
		}
		if slices.Contains(t.Encryption.Recipients, r) {
			continue
		}
		tag := "age_recipient=" + r
		dl, err := schema.Load(file, append(slices.Clone(tags), tag))
		if err == nil && slices.Contains(dl.Targets[name].Encryption.Recipients, r) {
			return tag, "", nil
		}
		return "", fmt.Sprintf("target %s encrypts to recipients that do not include the sandbox's identity %s (%s): "+
			"restores from it will fail; declare that recipient (the example takes -t age_recipient=…)", name, t.Encryption.IdentityFile, r), nil
	}
	return "", "", nil
}

func startSSH(ctx context.Context, dir, name string, t schema.Target) error {
	// The server's own files live on the host's filesystem too, under a
	// name the filter refuses (it starts with a dot).
	serverDir := filepath.Join(filepath.Clean(t.Path), ".drsync-sshd")
	if err := os.MkdirAll(serverDir, 0o700); err != nil {
		return err
	}
	srv, err := ssh.StartServer(ctx, serverDir, filepath.Clean(t.Path), t.Port)
	if err != nil {
		return err
	}
	if err := sandbox.RecordStarted(dir, srv.Cmd()); err != nil {
		_ = srv.Kill()
		return err
	}
	if err := copyPrivate(srv.Target.IdentityFile, t.IdentityFile); err != nil {
		return err
	}
	known, err := os.ReadFile(srv.Target.KnownHosts)
	if err != nil {
		return err
	}
	// Pinned for the declared host name: no trust on first use.
	f := strings.Fields(string(known))
	host := t.Host
	if t.Port != 22 {
		host = fmt.Sprintf("[%s]:%d", t.Host, t.Port)
	}
	if err := os.MkdirAll(filepath.Dir(t.KnownHosts), 0o755); err != nil {
		return err
	}
	return os.WriteFile(t.KnownHosts, []byte(host+" "+f[1]+" "+f[2]+"\n"), 0o644)
}

// copyPrivate copies a secret file to dest (0600), making its directory.
func copyPrivate(src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return err
	}
	out, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}
