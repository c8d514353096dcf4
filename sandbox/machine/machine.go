// Package machine builds a whole throwaway machine for a desired state:
// loop-mounted btrfs filesystems (or plain directories), the declared
// sources with sample data, its services, and servers standing in for its
// off-site targets; it tells the user what it made on the writer given.
package machine

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/internal/shellwords"
	"github.com/drsync/drsync/providers/dirfs"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/sandbox/offsite"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/session"
)

// Up builds a sandbox under dir for the desired state s names (injecting
// -t root=DIR): loop-mounted btrfs, or plain directories when s.Storage is
// dir. It ends by printing the plan command to run next.
func Up(ctx context.Context, s session.Options, dir string, out io.Writer) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	tags := append(append([]string(nil), s.Tags...), "root="+abs)
	next := "drsync plan -f " + shellwords.Quote(s.File)
	for _, t := range tags {
		next += " -t " + shellwords.Quote(t)
	}
	if s.Storage == "dir" {
		d, err := Plain(ctx, s.File, abs, s.Tags...)
		if err != nil {
			return err
		}
		writeServices(out, d)
		fmt.Fprintf(out, "created %s with sample data in plain directories\n\nnext: %s --storage dir\n",
			humane.Count(len(d.Subvolumes), "source"), next)
		return nil
	}
	if _, err := s.NewStorage(); err != nil {
		return err
	}
	if err := sandbox.Available(); err != nil {
		return fmt.Errorf("sandbox needs loop-mounted btrfs (or --storage dir for plain directories): %w", err)
	}
	d, err := s.LoadFrom(s.File, tags)
	if err != nil {
		return err
	}
	// The sandbox's drive is a plain loop device (this sandbox makes no
	// dm-crypt container): where the file declares the tag, the LUKS check
	// is turned off for this sandbox alone.
	if dl, err := s.LoadFrom(s.File, append(tags, sandbox.LUKSOffTag)); err == nil {
		tags, d = append(tags, sandbox.LUKSOffTag), dl
		next += " -t " + sandbox.LUKSOffTag
	}
	layout, err := sandbox.LayoutFor(d, abs)
	if err != nil {
		return err
	}
	layout.Filesystems = append(layout.Filesystems, offsite.Filesystems(d, abs)...)
	if err := sandbox.Up(ctx, abs, layout); err != nil {
		return err
	}
	if err := sandbox.StartServices(ctx, abs, d); err != nil {
		sandbox.Down(context.WithoutCancel(ctx), abs)
		return err
	}
	offsiteTags, err := startOffsite(ctx, s, d, abs, tags, out)
	if err != nil {
		sandbox.Down(context.WithoutCancel(ctx), abs)
		return err
	}
	for _, t := range offsiteTags {
		next += " -t " + shellwords.Quote(t)
	}
	for _, fs := range layout.Filesystems {
		uuid := ""
		if fs.UUID != "" {
			uuid = " (uuid " + fs.UUID + ")"
		}
		fmt.Fprintf(out, "mounted a btrfs at %s%s\n", fs.MountPoint, uuid)
	}
	writeServices(out, d)
	for _, name := range slices.Sorted(maps.Keys(d.Locations)) {
		if l := d.Locations[name]; l.LUKS != nil && l.LUKS.Verify {
			fmt.Fprintf(out, "NOTE: drive %s declares LUKS device %s, but this sandbox's drive is a plain loop device: plan will report it absent. "+
				"Declare luks.verify with a tag, as examples/desired/homelab.cue does, to turn the check off in sandboxes.\n", name, l.LUKS.Device)
		}
	}
	fmt.Fprintf(out, "created %s with sample data\n\nnext: %s\n", humane.Count(len(layout.Subvolumes), "source subvolume"), next)
	return nil
}

func writeServices(out io.Writer, d *schema.Desired) {
	for _, name := range d.ServiceNames() {
		svc := d.Services[name]
		what := map[string]string{schema.ServiceFiles: "sample configuration files", schema.ServiceSQLite: "a SQLite database",
			schema.ServicePrometheus: "a running Prometheus at " + svc.URL}[svc.Kind]
		fmt.Fprintf(out, "prepared service %s: %s\n", name, what)
	}
}

// Plain lays out the desired state as plain directories: sources with
// sample data, snapshot directories, and a marked drive directory.
func Plain(ctx context.Context, file, root string, tags ...string) (*schema.Desired, error) {
	d, err := schema.Load(file, append([]string{"root=" + root}, tags...))
	if err != nil {
		return nil, err
	}
	for i, name := range d.SubvolumeNames() {
		src := d.Subvolumes[name].Source
		if err := os.MkdirAll(src, 0o755); err != nil {
			return nil, err
		}
		// A source may hold another's (/ holds /home): fill a subdirectory.
		if _, err := sandbox.FillSampleData(filepath.Join(src, "sample-"+name), int64(i+1)); err != nil {
			return nil, err
		}
	}
	for _, l := range d.Locations {
		if err := os.MkdirAll(l.Path, 0o755); err != nil {
			return nil, err
		}
		if l.External {
			if err := dirfs.MarkDrive(l.Mount, l.UUID); err != nil {
				return nil, err
			}
		}
	}
	return d, sandbox.StartServices(ctx, root, d)
}

// startOffsite starts the servers standing in for the sandboxed desired
// state's off-site targets and returns the tags every later command needs:
// where the file declares age_recipient, the recipient of the age identity
// the sandbox made.
func startOffsite(ctx context.Context, s session.Options, d *schema.Desired, dir string, tags []string, out io.Writer) ([]string, error) {
	notes, err := offsite.Start(ctx, dir, d)
	for _, n := range notes {
		fmt.Fprintln(out, n)
	}
	if err != nil {
		return nil, err
	}
	tag, err := AgeTag(s, d, dir, tags, out)
	if err != nil || tag == "" {
		return nil, err
	}
	return []string{tag}, nil
}

// AgeTag is "age_recipient=…" for the identity a served s3 target decrypts
// with, when the desired state (s.File) encrypts to another recipient and
// declares that tag (as the example does); "" when nothing is needed. A
// target whose recipients cannot include the identity is noted on out.
func AgeTag(s session.Options, d *schema.Desired, dir string, tags []string, out io.Writer) (string, error) {
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
		dl, err := s.LoadFrom(s.File, append(slices.Clone(tags), tag))
		if err == nil && slices.Contains(dl.Targets[name].Encryption.Recipients, r) {
			return tag, nil
		}
		fmt.Fprintf(out, "NOTE: target %s encrypts to recipients that do not include the sandbox's identity %s (%s): "+
			"restores from it will fail; declare that recipient (the example takes -t age_recipient=…)\n", name, t.Encryption.IdentityFile, r)
	}
	return "", nil
}

// FreeS3Tag points the example's S3 target at a free loopback port, where
// the file declares the s3_endpoint tag.
func FreeS3Tag(file string) ([]string, error) {
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

// FreePrometheusTag points the example's Prometheus at a free loopback port.
func FreePrometheusTag() (string, error) {
	url, err := sandbox.FreeLoopbackURL()
	return "prometheus_url=" + url, err
}
