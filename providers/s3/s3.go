// Package s3 is the object-storage target: subvolumes as chains of btrfs
// send streams (target.Analyze), service archives as objects, everything
// encrypted with age to the declared recipients before it leaves the
// machine, uploaded in parts of an explicit size, its SHA-256 recorded and
// the stored object checked against the MD5s of the parts sent (see upload).
//
// It uses minio-go (Apache-2.0): one module with few dependencies that
// speaks to any S3-compatible server, and whose Core API gives the
// multipart calls one by one, so drsync chooses the part size, counts the
// parts against S3's limit of 10,000 and aborts what it started. The AWS
// SDK would bring a dozen modules for the same calls.
package s3

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/target"
)

// MaxParts is S3's limit on the parts of one multipart upload.
const MaxParts = 10000

// Target is one declared s3 target.
type Target struct {
	name       string
	cfg        schema.Target
	core       minio.Core
	layout     target.Layout
	recipients []age.Recipient
	// PartSize is the declared part size in bytes; uploads grow it from
	// the expected stream size (target.PartSize).
	PartSize int64
	// MaxParts is the part limit the upload stops at (S3's, lowered in
	// tests).
	MaxParts     int
	identityFile string
}

var (
	_ target.Target       = (*Target)(nil)
	_ target.ChainStore   = (*Target)(nil)
	_ target.ArchiveStore = (*Target)(nil)
)

// New connects to the target declared as name. The credentials are read
// from its file here and kept only inside the client: they reach no log,
// error or status.
func New(name string, cfg schema.Target) (*Target, error) {
	access, secret, err := readCredentials(cfg.CredentialsFile)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", name, err)
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("target %s: endpoint: %w", name, err)
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:  credentials.NewStaticV4(access, secret, ""),
		Secure: u.Scheme == "https",
		Region: cfg.Region,
		// A server that is down is deferred work: say so after a few
		// tries, not after minio's default ten with backoff.
		MaxRetries: 3,
	})
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", name, err)
	}
	t := &Target{name: name, cfg: cfg, core: minio.Core{Client: client}, layout: target.Layout{Prefix: cfg.Prefix},
		PartSize: int64(cfg.PartSizeMiB) << 20, MaxParts: MaxParts}
	if t.PartSize == 0 {
		t.PartSize = 16 << 20
	}
	switch {
	case cfg.Encryption != nil:
		for _, r := range cfg.Encryption.Recipients {
			rec, err := age.ParseX25519Recipient(r)
			if err != nil {
				return nil, fmt.Errorf("target %s: recipient %q: %w", name, r, err)
			}
			t.recipients = append(t.recipients, rec)
		}
	case cfg.Plaintext != schema.PlaintextConsent:
		// The schema refuses this too; a Target built by hand must not
		// fall back to plaintext either.
		return nil, fmt.Errorf("target %s: no encryption declared and no consent to plaintext: refusing to upload", name)
	}
	return t, nil
}

func (t *Target) Name() string { return t.name }

// Encrypted reports whether the target encrypts what it stores.
func (t *Target) Encrypted() bool { return len(t.recipients) > 0 }

// readCredentials reads "access_key_id = …" and "secret_access_key = …"
// (optionally aws_-prefixed, as in ~/.aws/credentials); errors name the
// file and line, never a value.
func readCredentials(path string) (access, secret string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", fmt.Errorf("credentials: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") || strings.HasPrefix(text, "[") {
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		if !ok {
			return "", "", fmt.Errorf("%s:%d: want key = value", path, line)
		}
		switch strings.TrimPrefix(strings.TrimSpace(key), "aws_") {
		case "access_key_id":
			access = strings.TrimSpace(value)
		case "secret_access_key":
			secret = strings.TrimSpace(value)
		default:
			return "", "", fmt.Errorf("%s:%d: unknown key %q (want access_key_id, secret_access_key)", path, line, strings.TrimSpace(key))
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("credentials: %w", err)
	}
	if access == "" || secret == "" {
		return "", "", fmt.Errorf("%s: needs both access_key_id and secret_access_key", path)
	}
	return access, secret, nil
}

// Probe checks that the server answers, the credentials are accepted and
// the bucket exists.
func (t *Target) Probe(ctx context.Context) error {
	ok, err := t.core.BucketExists(ctx, t.cfg.Bucket)
	if err != nil {
		return t.wrap("probe", err)
	}
	if !ok {
		return fmt.Errorf("target %s: bucket %s does not exist at %s", t.name, t.cfg.Bucket, t.cfg.Endpoint)
	}
	return nil
}

// wrap names the target in an error and marks network failures as
// unreachable (deferred); refused credentials and missing buckets are
// errors a person must fix.
func (t *Target) wrap(op string, err error) error {
	var netErr net.Error
	var urlErr *url.Error
	if errors.As(err, &netErr) || errors.As(err, &urlErr) {
		return fmt.Errorf("target %s (%s): %s: %w: %v", t.name, t.cfg.Endpoint, op, target.ErrUnreachable, err)
	}
	if resp := minio.ToErrorResponse(err); resp.Code != "" {
		return fmt.Errorf("target %s: %s: %s: %s", t.name, op, resp.Code, resp.Message)
	}
	return fmt.Errorf("target %s: %s: %w", t.name, op, err)
}
