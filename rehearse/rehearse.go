// Package rehearse runs a disaster-recovery runbook for real on a
// throwaway sandbox of the user's own desired state: sandbox up, apply,
// the runbook's disaster staged, the drsync commands of the runbook's
// recovery procedure run in order, the recovered data compared with the
// copy it came from, the services the disaster takes brought up from their
// archives in staging, sandbox down. The outcome is journaled in the user's
// state directory (package evidence), from where the runbooks, metrics
// and alerts report it.
package rehearse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/internal/shellwords"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/rehearse/evidence"
	"github.com/drsync/drsync/render/runbook"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/sandbox/machine"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/session"
)

// Options say what to rehearse and where.
type Options struct {
	Runbook string   // DR-001 … DR-004
	File    string   // the user's desired state
	Tags    []string // the user's CUE tags; a root tag is replaced by the sandbox's
	Storage string   // btrfs or dir
	Dir     string   // where to build the sandbox; empty: a new temporary directory
	Keep    bool     // leave the sandbox in place
}

// Env is what a rehearsal runs with.
type Env struct {
	// Drsync runs one drsync command in-process, its output to out.
	Drsync func(out io.Writer, args ...string) error
	// Storage deletes what the disaster destroys.
	Storage model.Storage
	Stdout  io.Writer
}

// Result is a rehearsal's outcome, as journaled.
type Result = evidence.Rehearsal

// ErrFailed is returned, wrapped, by a rehearsal that ran and failed.
var ErrFailed = errors.New("rehearsal failed")

// Run rehearses o.Runbook and journals the outcome in the state directory
// of the user's desired state. An error that is not ErrFailed means the
// rehearsal could not even start (an unknown runbook, an invalid desired
// state) and nothing was journaled.
func Run(ctx context.Context, o Options, env Env) (Result, error) {
	if !slices.Contains(runbook.IDs(), o.Runbook) {
		return Result{}, fmt.Errorf("rehearse %s: no such runbook (runbooks: %s)", o.Runbook, strings.Join(runbook.IDs(), ", "))
	}
	user, err := schema.Load(o.File, o.Tags)
	if err != nil {
		return Result{}, err
	}
	file, err := filepath.Abs(o.File)
	if err != nil {
		return Result{}, err
	}
	// DR-004 recovers from off-site copies alone where the desired state
	// sends to targets: they are btrfs send streams, so on btrfs only.
	total := o.Runbook == "DR-004" && o.Storage == "btrfs" && len(user.Targets) > 0
	r := &run{o: o, env: env, file: file, started: time.Now(), totalLoss: total}
	compared, detail, runErr := r.rehearse(ctx)
	res := Result{
		Runbook: o.Runbook, Started: r.started, Seconds: time.Since(r.started).Seconds(), Bytes: compared,
		Passed: runErr == nil, Detail: detail, Storage: o.Storage, Desired: file, Services: r.services,
	}
	if runErr != nil {
		res.Detail = runErr.Error()
	}
	verdict := "PASS"
	if !res.Passed {
		verdict = "FAIL"
	}
	fmt.Fprintf(env.Stdout, "\nRehearsal %s: %s in %s: %s\n", o.Runbook, verdict, humane.Rounded(res.Duration()), res.Detail)
	if err := Record(env.Stdout, user, res); err != nil {
		return res, err
	}
	if runErr != nil {
		return res, fmt.Errorf("%w: %w", ErrFailed, runErr)
	}
	return res, nil
}

type run struct {
	o       Options
	env     Env
	file    string
	started time.Time
	// totalLoss rehearses DR-004 from the off-site copies alone.
	totalLoss bool
	flags     []string // the sandbox's file, tags and storage, added to every command
	// services are the services the disaster took, checked from archives.
	services []evidence.ServiceCheck
}

// step prints a command as a user would type it, then runs it.
func (r *run) step(args ...string) error {
	fmt.Fprintf(r.env.Stdout, "\n$ drsync %s\n", strings.Join(args, " "))
	if err := r.env.Drsync(r.env.Stdout, args...); err != nil {
		return fmt.Errorf("drsync %s: %w", args[0], err)
	}
	return nil
}

// rehearse builds the sandbox, stages the disaster, runs the runbook and
// checks the result: the bytes compared and what was checked.
func (r *run) rehearse(ctx context.Context) (int64, string, error) {
	dir := r.o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "drsync-rehearse-")
		if err != nil {
			return 0, "", err
		}
		dir = tmp
	}
	root, err := filepath.Abs(filepath.Join(dir, "root"))
	if err != nil {
		return 0, "", err
	}
	tags, err := sandboxTags(r.file, r.o.Tags)
	if err != nil {
		return 0, "", err
	}
	if r.o.Keep {
		defer fmt.Fprintf(r.env.Stdout, "\nThe sandbox stays at %s; remove it with: drsync sandbox down --dir %s\n", root, shellwords.Quote(root))
	} else {
		defer func() {
			r.step("sandbox", "down", "--dir", root)
			if r.o.Dir == "" {
				os.RemoveAll(dir)
			}
		}()
	}
	up := append([]string{"sandbox", "up", "--dir", root, "-f", r.file, "--storage", r.o.Storage}, tagFlags(tags)...)
	if err := r.step(up...); err != nil {
		return 0, "", err
	}
	tags = append(tags, "root="+root)
	d, err := schema.Load(r.file, tags)
	if err != nil {
		return 0, "", err
	}
	// The sandbox's drive is a plain loop device or directory, no LUKS
	// container: its check is off where the desired state has the tag.
	if dl, err := schema.Load(r.file, append(tags, sandbox.LUKSOffTag)); err == nil {
		tags, d = append(tags, sandbox.LUKSOffTag), dl
	}
	// The sandbox's off-site target encrypts to the identity it made.
	age, err := machine.AgeTag(session.Options{File: r.file}, d, root, tags, r.env.Stdout)
	if err != nil {
		return 0, "", err
	}
	if age != "" {
		tags = append(tags, age)
		if d, err = schema.Load(r.file, tags); err != nil {
			return 0, "", err
		}
	}
	r.flags = append([]string{"-f", r.file, "--storage", r.o.Storage}, tagFlags(tags)...)
	apply := append([]string{"apply", "--auto-approve"}, r.flags...)
	var before time.Time
	if r.totalLoss {
		// At the latest time every off-site send was due (a weekly send
		// waits for its day), so every subvolume has an off-site copy.
		before = OffsiteDueTime(d, time.Now(), -time.Hour)
		apply = append(apply, "--now", before.Format(time.RFC3339))
	}
	if err := r.step(apply...); err != nil {
		return 0, "", fmt.Errorf("the apply before the disaster failed: %w", err)
	}
	if r.totalLoss {
		return r.offsiteLoss(ctx, d, root, before)
	}
	books, err := runbook.Render(view.Input{Desired: d, Now: time.Now()})
	if err != nil {
		return 0, "", err
	}
	md, ok := runbook.ByID(books, r.o.Runbook)
	if !ok {
		return 0, "", fmt.Errorf("%s is not rendered for this desired state", r.o.Runbook)
	}
	commands := runbook.Commands(procedure(md))
	if r.o.Runbook == "DR-003" {
		return r.deletion(ctx, d, commands)
	}
	return r.loss(ctx, d, commands)
}

// procedure is the runbook's "Recovery Procedure" section: the commands a
// person runs in the disaster, without the warnings' and checklists'. A
// runbook ends the part a sandbox can run with a stopMarker (DR-001: the
// sandbox cannot reboot into a recovered root).
func procedure(md []byte) []byte {
	const heading = "\n## Recovery Procedure\n"
	i := bytes.Index(md, []byte(heading))
	if i < 0 {
		return nil
	}
	rest := md[i+len(heading):]
	for _, end := range []string{"\n## ", stopMarker} {
		if j := bytes.Index(rest, []byte(end)); j >= 0 {
			rest = rest[:j]
		}
	}
	return rest
}

// stopMarker is an HTML comment (invisible in rendered Markdown) after
// which a runbook's commands need the real machine.
const stopMarker = "<!-- rehearse: stop"

// runCommands runs the runbook's drsync commands in order with the
// sandbox's flags, --auto-approve where a command would ask, and the
// shell variables the runbook tells the reader to set filled from vars.
// after is called with each command once it succeeded.
func (r *run) runCommands(commands [][]string, vars map[string]string, after func([]string) error) error {
	fmt.Fprintf(r.env.Stdout, "\n== %s: the runbook's drsync commands, with the sandbox's flags and --auto-approve\n", r.o.Runbook)
	for _, c := range commands {
		args, err := expand(c[1:], vars)
		if err != nil {
			return err
		}
		if approves(args) {
			args = append(args, "--auto-approve")
		}
		if err := r.step(append(args, r.flags...)...); err != nil {
			return err
		}
		if after != nil {
			if err := after(args); err != nil {
				return err
			}
		}
	}
	return nil
}

// approves reports whether a command changes things and so asks first.
func approves(args []string) bool {
	switch args[0] {
	case "apply":
		return true
	case "recover":
		return !slices.Contains(args, "--verify-only")
	}
	return false
}

// expand fills the shell variables ($NAME, ${NAME}) of a runbook command.
// A variable the rehearsal cannot fill is an error naming it.
func expand(args []string, vars map[string]string) ([]string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		var missing []string
		out[i] = os.Expand(a, func(name string) string {
			v, ok := vars[name]
			if !ok {
				missing = append(missing, "$"+name)
			}
			return v
		})
		if len(missing) > 0 {
			return nil, fmt.Errorf("the runbook's command drsync %s needs %s, which the rehearsal cannot fill",
				strings.Join(args, " "), strings.Join(missing, ", "))
		}
	}
	return out, nil
}

// sandboxTags are the user's tags for a sandbox: the user's root is
// replaced by the sandbox's (added later), and where the desired state
// reads them, the drive gets its own UUID (the real drive may be attached)
// and Prometheus and the S3 server free ports (real ones may run), instead
// of the user's.
func sandboxTags(file string, user []string) ([]string, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	own := []string{"root"}
	var tags []string
	if bytes.Contains(src, []byte("@tag(drive_uuid)")) {
		own = append(own, "drive_uuid")
		tags = append(tags, "drive_uuid="+sandbox.NewUUID())
	}
	for _, server := range []string{"prometheus_url", "s3_endpoint"} {
		if !bytes.Contains(src, []byte("@tag("+server+")")) {
			continue
		}
		url, err := sandbox.FreeLoopbackURL()
		if err != nil {
			return nil, err
		}
		own = append(own, server)
		tags = append(tags, server+"="+url)
	}
	for _, t := range user {
		if key, _, _ := strings.Cut(t, "="); !slices.Contains(own, key) {
			tags = append(tags, t)
		}
	}
	return tags, nil
}

func tagFlags(tags []string) []string {
	var out []string
	for _, t := range tags {
		out = append(out, "-t", t)
	}
	return out
}
