// Package demo rehearses the embedded homelab example in a throwaway
// sandbox: sandbox up, plan, apply, plan again, list, status, the off-site
// copies, a recovery, and sandbox down, each a drsync command run by the
// caller's Step.
package demo

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/drsync/drsync/examples/desired"
	"github.com/drsync/drsync/internal/shellwords"
	"github.com/drsync/drsync/rehearse"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/sandbox/machine"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/session"
)

// Step runs one drsync command (its arguments, without "drsync"), showing
// it as a user would type it.
type Step func(args ...string) error

// Options say where and how the demo runs.
type Options struct {
	// Dir is where to build the sandbox ("": a new temporary directory).
	Dir string
	// Keep leaves the sandbox in place to explore.
	Keep bool
	// Plain uses plain directories even where loop-mounted btrfs works.
	Plain bool
	// Now is the rehearsal's clock; when NowGiven is false it may move back
	// to when every off-site send was due.
	Now      time.Time
	NowGiven bool
}

// Run rehearses the embedded example in a sandbox it builds and, unless
// kept, tears down; notes for the user go to out.
func Run(o Options, step Step, out io.Writer) error {
	now := o.Now
	if o.Dir == "" {
		tmp, err := os.MkdirTemp("", "drsync-demo-")
		if err != nil {
			return err
		}
		o.Dir = tmp
	}
	dir, err := filepath.Abs(o.Dir)
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
	// The sandbox drive gets its own UUID (the real one may be
	// attached) and its Prometheus a free port (a real one may run).
	uuidTag := "drive_uuid=" + sandbox.NewUUID()
	promTag, err := machine.FreePrometheusTag()
	if err != nil {
		return err
	}
	storage := "btrfs"
	why := sandbox.Available()
	if o.Plain && why == nil {
		why = fmt.Errorf("--plain asked for plain directories")
	}
	if why != nil {
		storage = "dir"
	}
	// Cleanup is in place before anything starts, so a failure or
	// ^C half way leaves no mount, loop device or server behind.
	if !o.Keep {
		defer func() {
			step("sandbox", "down", "--dir", root)
			os.RemoveAll(dir)
		}()
	}
	if why != nil {
		fmt.Fprintf(out, "NOTE: loop-mounted btrfs is not used here (%v).\n"+
			"      Falling back to a plain-directory sandbox: snapshots are copies, sends copy files.\n\n", why)
	}
	serverTags := []string{"-t", uuidTag, "-t", promTag}
	if storage == "btrfs" {
		// Off-site copies are btrfs send streams: the sandbox serves the
		// S3 target only on btrfs.
		s3Tag, err := machine.FreeS3Tag(file)
		if err != nil {
			return err
		}
		for _, t := range s3Tag {
			serverTags = append(serverTags, "-t", t)
		}
	}
	if err := step(append(append([]string{"sandbox", "up", "--dir", root, "-f", file}, serverTags...), "--storage", storage)...); err != nil {
		return err
	}
	// No dm-crypt container is made: the drive is a loop device.
	fmt.Fprintf(out, "NOTE: the sandbox's drive is a plain loop device, not a LUKS container: its LUKS check is off for this sandbox (-t %s).\n", sandbox.LUKSOffTag)
	common := append(append([]string{"-f", file, "-t", "root=" + root}, serverTags...), "-t", sandbox.LUKSOffTag, "--storage", storage)
	if storage == "btrfs" {
		if common, now, err = offsiteFlags(file, root, common, !o.NowGiven, now, out); err != nil {
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
		if err := step(args...); err != nil {
			return err
		}
	}
	// The other half of disaster recovery: a whole subvolume recovered from
	// its newest verified copy, beside its source, and verified file by file.
	recovered := filepath.Join(root, "mnt", "btrfs-pool", "recovered")
	if err := os.MkdirAll(recovered, 0o755); err != nil {
		return err
	}
	if err := step(append([]string{"recover", "subvol1-docs", "--to", recovered, "--auto-approve"}, common...)...); err != nil {
		return err
	}
	// And a service, in place: Prometheus stopped, its TSDB replaced by the
	// newest verified archive, started again and queried.
	if err := step(append([]string{"recover", "prometheus-tsdb", "--auto-approve"}, common...)...); err != nil {
		return err
	}
	if o.Keep {
		fmt.Fprintf(out, "\nThe sandbox stays at %s; remove it with: drsync sandbox down --dir %s\n", root, shellwords.Quote(root))
	}
	return nil
}

// offsiteFlags adds the recipient of the age identity the sandbox made to
// the demo's flags and, when moveClock, sets the clock back to the latest
// time every off-site send was due (a weekly send waits for its day), so
// the demo shows each subvolume reaching the S3 target.
func offsiteFlags(file, root string, common []string, moveClock bool, now time.Time, out io.Writer) ([]string, time.Time, error) {
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
	age, err := machine.AgeTag(session.Options{File: file}, d, root, tags, out)
	if err != nil {
		return nil, now, err
	}
	if age != "" {
		common = append(common, "-t", age)
	}
	if moveClock {
		if due := rehearse.OffsiteDueTime(d, now, -time.Hour); !due.Equal(now) {
			fmt.Fprintf(out, "NOTE: the demo's clock is %s, the latest time every off-site send was due, so each subvolume reaches the S3 target.\n",
				due.Format("2006-01-02 15:04 MST"))
			now = due
		}
	}
	return common, now, nil
}
