package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/examples/desired"
	"github.com/drsync/drsync/internal/shellwords"
	"github.com/drsync/drsync/providers/dirfs"
	"github.com/drsync/drsync/rehearse"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/schema"
)

func newDemoCommand(g *globalOptions) *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Rehearse the embedded homelab example in a throwaway sandbox",
		Long: "Builds a loop-mounted btrfs sandbox for the embedded homelab example (or, where loop mounts are " +
			"impossible, plain directories, and says so), then runs plan, apply (snapshots, sends, restore tests, drills, generated " +
			"files), plan again, list and status, recovers a subvolume beside its source and the Prometheus service in place, and tears it down.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), g, o)
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", "", "where to build the sandbox (default: a new temporary directory)")
	cmd.Flags().BoolVar(&o.keep, "keep", false, "leave the sandbox in place to explore")
	cmd.Flags().BoolVar(&o.plain, "plain", false, "use plain directories even where loop-mounted btrfs works")
	cmd.Flags().StringVar(&o.now, "now", "", "rehearse as if it started at this time (RFC 3339, or 2006-01-02T15:04 in local time)")
	return cmd
}

type demoOptions struct {
	dir         string
	keep, plain bool
	// now fixes the rehearsal's clock (default: the time it starts).
	now string
}

// runDemo rehearses the embedded example in a sandbox it builds and, unless
// kept, tears down.
func runDemo(ctx context.Context, g *globalOptions, o demoOptions) error {
	now, err := parseNow(o.now)
	if err != nil {
		return err
	}
	if o.dir == "" {
		tmp, err := os.MkdirTemp("", "drsync-demo-")
		if err != nil {
			return err
		}
		o.dir = tmp
	}
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return err
	}
	file := filepath.Join(dir, "homelab.cue")
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(file, desired.Homelab, 0o644); err != nil {
		return err
	}
	demo := demoRunner{g: g, file: file, root: root}
	// The sandbox drive gets its own UUID (the real one may be
	// attached) and its Prometheus a free port (a real one may run).
	uuidTag := "drive_uuid=" + sandbox.NewUUID()
	promTag, err := freePrometheusTag()
	if err != nil {
		return err
	}
	storage := "btrfs"
	why := sandbox.Available()
	if o.plain && why == nil {
		why = fmt.Errorf("--plain asked for plain directories")
	}
	if why != nil {
		storage = "dir"
	}
	// Cleanup is in place before anything starts, so a failure or
	// ^C half way leaves no mount, loop device or server behind.
	if !o.keep {
		defer func() {
			demo.step("sandbox", "down", "--dir", root)
			os.RemoveAll(dir)
		}()
	}
	if why != nil {
		fmt.Fprintf(g.stdout, "NOTE: loop-mounted btrfs is not used here (%v).\n"+
			"      Falling back to a plain-directory sandbox: snapshots are copies, sends copy files.\n\n", why)
	}
	serverTags := []string{"-t", uuidTag, "-t", promTag}
	if storage == "btrfs" {
		// Off-site copies are btrfs send streams: the sandbox serves the
		// S3 target only on btrfs.
		s3Tag, err := freeS3Tag(file)
		if err != nil {
			return err
		}
		serverTags = append(serverTags, tagFlags(s3Tag)...)
	}
	if err := demo.step(append(append([]string{"sandbox", "up", "--dir", root, "-f", file}, serverTags...), "--storage", storage)...); err != nil {
		return err
	}
	demo.storage = storage
	// No dm-crypt container is made: the drive is a loop device.
	fmt.Fprintf(g.stdout, "NOTE: the sandbox's drive is a plain loop device, not a LUKS container: its LUKS check is off for this sandbox (-t %s).\n", luksOffTag)
	common := append(append([]string{"-f", file, "-t", "root=" + root}, serverTags...), "-t", luksOffTag, "--storage", storage)
	if storage == "btrfs" {
		if common, now, err = demoOffsite(g, file, root, common, o.now == "", now); err != nil {
			return err
		}
	}
	// One clock for the whole rehearsal: a slot that opens between apply
	// and the second plan (the top of the hour) would otherwise make that
	// plan non-empty. Durations are still measured on the real clock.
	clock := append([]string{"--now", now.Format(time.RFC3339)}, common...)
	steps := [][]string{
		append([]string{"plan"}, clock...),
		append([]string{"apply", "--auto-approve"}, clock...),
		append([]string{"plan", "--detailed-exitcode"}, clock...),
		append([]string{"list"}, common...),
		append([]string{"status"}, common...),
	}
	if storage == "btrfs" {
		steps = append(steps, append([]string{"offsite", "list"}, common...))
	}
	for _, args := range steps {
		if err := demo.step(args...); err != nil {
			return err
		}
	}
	// The other half of disaster recovery: a whole subvolume recovered from
	// its newest verified copy, beside its source, and verified file by file.
	recovered := filepath.Join(root, "mnt", "btrfs-pool", "recovered")
	if err := os.MkdirAll(recovered, 0o755); err != nil {
		return err
	}
	if err := demo.step(append([]string{"recover", "subvol1-docs", "--to", recovered, "--auto-approve"}, common...)...); err != nil {
		return err
	}
	// And a service, in place: Prometheus stopped, its TSDB replaced by the
	// newest verified archive, started again and queried.
	if err := demo.step(append([]string{"recover", "prometheus-tsdb", "--auto-approve"}, common...)...); err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintf(g.stdout, "\nThe sandbox stays at %s; remove it with: drsync sandbox down --dir %s\n", root, shellwords.Quote(root))
	}
	return nil
}

type demoRunner struct {
	g          *globalOptions
	file, root string
	storage    string
}

// step prints a command as a user would type it, then runs it in-process.
func (r demoRunner) step(args ...string) error {
	fmt.Fprintf(r.g.stdout, "\n$ drsync %s\n", strings.Join(args, " "))
	if code := run(args, r.g.stdin, r.g.stdout, r.g.stdout); code != exitOK {
		return fmt.Errorf("drsync %s exited %d", args[0], code)
	}
	return nil
}

// plainSandbox lays out the desired state as plain directories: sources
// with sample data, snapshot directories, and a marked drive directory.
func plainSandbox(ctx context.Context, file, root string, tags ...string) (*schema.Desired, error) {
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

// freePrometheusTag points the example's Prometheus at a free loopback port.
func freePrometheusTag() (string, error) {
	url, err := sandbox.FreeLoopbackURL()
	return "prometheus_url=" + url, err
}

// demoOffsite adds the recipient of the age identity the sandbox made to
// the demo's flags and, unless the clock was given, sets it back to the
// latest time every off-site send was due (a weekly send waits for its
// day), so the demo shows each subvolume reaching the S3 target.
func demoOffsite(g *globalOptions, file, root string, common []string, moveClock bool, now time.Time) ([]string, time.Time, error) {
	var tags []string
	for i := 0; i+1 < len(common); i++ {
		if common[i] == "-t" {
			tags = append(tags, common[i+1])
		}
	}
	d, err := schema.Load(file, tags)
	if err != nil {
		return nil, now, err
	}
	age, err := sandboxAgeTag(&globalOptions{file: file, stdout: g.stdout}, d, root, tags)
	if err != nil {
		return nil, now, err
	}
	if age != "" {
		common = append(common, "-t", age)
	}
	if moveClock {
		if due := rehearse.OffsiteDueTime(d, now, -time.Hour); !due.Equal(now) {
			fmt.Fprintf(g.stdout, "NOTE: the demo's clock is %s, the latest time every off-site send was due, so each subvolume reaches the S3 target.\n",
				due.Format("2006-01-02 15:04 MST"))
			now = due
		}
	}
	return common, now, nil
}
