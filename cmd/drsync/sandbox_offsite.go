package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/drsync/drsync/sandbox/offsite"
	"github.com/drsync/drsync/schema"
)

// startSandboxOffsite starts the servers standing in for the sandboxed
// desired state's off-site targets and returns the tags every later command
// needs: where the file declares age_recipient, the recipient of the age
// identity the sandbox made.
func startSandboxOffsite(ctx context.Context, g *globalOptions, d *schema.Desired, dir string, tags []string) ([]string, error) {
	notes, err := offsite.Start(ctx, dir, d)
	for _, n := range notes {
		fmt.Fprintln(g.stdout, n)
	}
	if err != nil {
		return nil, err
	}
	tag, err := sandboxAgeTag(g, d, dir, tags)
	if err != nil || tag == "" {
		return nil, err
	}
	return []string{tag}, nil
}

// sandboxAgeTag is "age_recipient=…" for the identity a served s3 target
// decrypts with, when the desired state encrypts to another recipient and
// declares that tag (as the example does); "" when nothing is needed.
func sandboxAgeTag(g *globalOptions, d *schema.Desired, dir string, tags []string) (string, error) {
	for _, name := range offsite.ServedTargets(d, dir) {
		t := d.Targets[name]
		if t.Kind != schema.TargetS3 || t.Encryption == nil {
			continue
		}
		r, err := offsite.AgeRecipient(t.Encryption.IdentityFile)
		if err != nil {
			return "", err
		}
		if slices.Contains(t.Encryption.Recipients, r) {
			continue
		}
		tag := "age_recipient=" + r
		dl, err := loadDesired(g, g.file, append(slices.Clone(tags), tag))
		if err == nil && slices.Contains(dl.Targets[name].Encryption.Recipients, r) {
			return tag, nil
		}
		fmt.Fprintf(g.stdout, "NOTE: target %s encrypts to recipients that do not include the sandbox's identity %s (%s): "+
			"restores from it will fail; declare that recipient (the example takes -t age_recipient=…)\n", name, t.Encryption.IdentityFile, r)
	}
	return "", nil
}

// freeS3Tag points the example's S3 target at a free loopback port, where
// the file declares the s3_endpoint tag.
func freeS3Tag(file string) ([]string, error) {
	src, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(src), "@tag(s3_endpoint)") {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer l.Close()
	return []string{"s3_endpoint=http://" + l.Addr().String()}, nil
}
