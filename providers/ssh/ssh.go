// Package ssh is the ssh target: a second btrfs host that receives
// snapshots with btrfs send | ssh … btrfs receive, through a forced-command
// filter (filter.go) on the remote side.
//
// It runs the system ssh rather than golang.org/x/crypto/ssh: OpenSSH
// already holds the user's keys, agents, ProxyJump and ciphers with AES-NI,
// so a send runs as fast as the `btrfs send | ssh` a person would type,
// host keys are checked by the same code that checks them everywhere else,
// and drsync carries no second SSH implementation to keep patched.
package ssh

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
	"github.com/drsync/drsync/target"
)

// Target is one declared ssh target.
type Target struct {
	name string
	cfg  schema.Target
	// Binary is the ssh client to run.
	Binary string
	// Loc reads the times in snapshot names.
	Loc *time.Location
}

var _ target.Target = (*Target)(nil)

// New returns the ssh target declared as name.
func New(name string, cfg schema.Target) *Target {
	return &Target{name: name, cfg: cfg, Binary: "ssh", Loc: time.Local}
}

func (t *Target) Name() string { return t.name }

// safeName is what the filter accepts as a name; checking it here too
// gives a clear local error instead of a refusal.
var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (t *Target) command(words ...string) (*exec.Cmd, error) {
	for _, w := range words[1:] {
		if !safeName.MatchString(w) || strings.Contains(w, "..") {
			return nil, fmt.Errorf("target %s: %q is not a name the filter accepts", t.name, w)
		}
	}
	args := []string{
		"-F", "none", // the declared settings, not whatever ~/.ssh/config says
		"-i", t.cfg.IdentityFile,
		"-p", strconv.Itoa(t.cfg.Port),
		"-l", t.cfg.User,
		"-o", "BatchMode=yes",
		"-o", "IdentitiesOnly=yes",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + t.cfg.KnownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "UpdateHostKeys=no",
		"-o", "ConnectTimeout=10",
		"-o", "ServerAliveInterval=15",
		"-o", "ServerAliveCountMax=4",
		"-o", "ClearAllForwardings=yes",
		"-o", "LogLevel=ERROR",
		"-T", t.cfg.Host,
		"drsync " + strings.Join(words, " "),
	}
	return exec.Command(t.Binary, args...), nil
}

// run runs one filter verb and returns its output.
func (t *Target) run(ctx context.Context, words ...string) ([]byte, error) {
	cmd, err := t.command(words...)
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := runContext(ctx, cmd); err != nil {
		return nil, t.classify(words[0], err, &stderr)
	}
	return stdout.Bytes(), nil
}

// runContext runs cmd, killing it when ctx ends.
func runContext(ctx context.Context, cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = cmd.Process.Kill() })
	defer stop()
	err := cmd.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// unreachable are ssh's words for a host it could not talk to at all;
// a refused key or host key is a configuration error, never deferred.
var unreachable = []string{"Connection refused", "Connection timed out", "No route to host",
	"Could not resolve hostname", "Network is unreachable", "Connection closed by", "Connection reset"}

func (t *Target) classify(verb string, err error, stderr *bytes.Buffer) error {
	msg := strings.TrimSpace(stderr.String())
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 255 {
		for _, u := range unreachable {
			if strings.Contains(msg, u) {
				return fmt.Errorf("target %s (%s:%d): %w: %s", t.name, t.cfg.Host, t.cfg.Port, target.ErrUnreachable, msg)
			}
		}
	}
	if msg != "" {
		err = fmt.Errorf("%w: %s", err, msg)
	}
	return fmt.Errorf("target %s: %s: %w", t.name, verb, err)
}

// Probe checks that the host answers through the filter and that the
// target's path is on btrfs.
func (t *Target) Probe(ctx context.Context) error {
	out, err := t.run(ctx, "probe")
	if err != nil {
		return err
	}
	f := strings.Fields(string(out))
	switch {
	case len(f) != 3 || f[0] != "drsync-filter":
		return fmt.Errorf("target %s: the forced command is not drsync's filter (it answered %q)", t.name, strings.TrimSpace(string(out)))
	case f[1] != strconv.Itoa(FilterVersion):
		return fmt.Errorf("target %s: filter version %s, this drsync speaks %d: install the filter drsync generates", t.name, f[1], FilterVersion)
	case f[2] != "btrfs":
		return fmt.Errorf("target %s: %s is on %s, not btrfs", t.name, t.cfg.Path, f[2])
	}
	return nil
}

// List reads the replicas of subvolume on the host. A replica counts only
// when the filter marked it complete; one whose receive began but was
// never committed is incomplete (to be removed); anything else (not named
// like a snapshot of subvolume, not a subvolume, not received by drsync)
// is foreign, reported and never deleted.
func (t *Target) List(ctx context.Context, subvolume string) ([]target.Copy, error) {
	out, err := t.run(ctx, "list", subvolume)
	if err != nil {
		return nil, err
	}
	return parseList(subvolume, out, t.Loc)
}

func parseList(subvolume string, out []byte, loc *time.Location) ([]target.Copy, error) {
	type entry struct {
		copy               target.Copy
		subvolume          bool
		readOnly           bool
		complete, incoming bool
	}
	entries := map[string]*entry{}
	get := func(name string) *entry {
		if entries[name] == nil {
			entries[name] = &entry{copy: target.Copy{Name: name}}
		}
		return entries[name]
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 5 && f[0] == "subvolume":
			e := get(f[1])
			e.subvolume, e.readOnly = true, f[4] == "readonly"
			if f[3] != "-" {
				e.copy.ReceivedUUID = f[3]
			}
		case len(f) == 2 && f[0] == "complete":
			get(f[1]).complete = true
		case len(f) == 2 && f[0] == "incoming":
			get(f[1]).incoming = true
		case len(f) == 2 && f[0] == "other":
			get(f[1]).copy.Foreign = true
		default:
			return nil, fmt.Errorf("list %s: unexpected line %q from the filter", subvolume, sc.Text())
		}
	}
	var copies []target.Copy
	stamps := map[string]snapname.Stamp{}
	for name, e := range entries {
		st, ours := snapname.Parse(subvolume, name, loc)
		stamps[name] = st
		c := e.copy
		switch {
		case c.Foreign || !ours || !e.subvolume && !e.incoming:
			c.Foreign = true
		case e.complete && (!e.readOnly || c.ReceivedUUID == ""):
			c.Broken = "marked complete but writable or without a received UUID"
		case e.complete:
			c.Complete = true
		case e.incoming:
			// An interrupted receive: incomplete, ours to remove.
		default:
			c.Foreign = true // a subvolume drsync did not receive
		}
		copies = append(copies, c)
	}
	slices.SortFunc(copies, func(a, b target.Copy) int {
		switch {
		case snapname.Less(stamps[a.Name], stamps[b.Name]):
			return -1
		case snapname.Less(stamps[b.Name], stamps[a.Name]):
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return copies, nil
}

// Delete removes a replica, or what an interrupted receive left. Foreign
// entries are refused here and by the filter.
func (t *Target) Delete(ctx context.Context, subvolume, name string) error {
	copies, err := t.List(ctx, subvolume)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(copies, func(c target.Copy) bool { return c.Name == name })
	switch {
	case i < 0:
		return fmt.Errorf("target %s: no replica %s/%s", t.name, subvolume, name)
	case copies[i].Foreign:
		return fmt.Errorf("target %s: %s/%s is not drsync's: left alone", t.name, subvolume, name)
	case !copies[i].Complete && copies[i].Broken == "":
		_, err = t.run(ctx, "abort", subvolume, name)
	default:
		_, err = t.run(ctx, "delete", subvolume, name)
	}
	return err
}

// Receive sends snap to the host, incrementally from parent (a local
// snapshot beside snap that the host holds) when parent is not empty, in
// one connection: the commit line follows the stream only after btrfs send
// succeeded, and the host commits only after its receive succeeded too; on failure the interrupted receive is aborted (or,
// when the host is gone, left marked incoming for the next run to remove).
func (t *Target) Receive(ctx context.Context, snap target.Snapshot, parent string, progress target.Progress) (int64, error) {
	if snap.Name != filepath.Base(snap.Path) {
		return 0, fmt.Errorf("target %s: snapshot %s is not named %s", t.name, snap.Path, snap.Name)
	}
	args := []string{"send", "-q"}
	if parent != "" {
		args = append(args, "-p", filepath.Join(filepath.Dir(snap.Path), parent))
	}
	send := exec.Command("btrfs", append(args, snap.Path)...)
	recv, err := t.command("receive-commit", snap.Subvolume, snap.Name)
	if err != nil {
		return 0, err
	}
	var answer bytes.Buffer
	recv.Stdout = &answer
	// The commit line follows the stream only once btrfs send succeeded.
	n, err := pipe(ctx, send, recv, progress, t.cfg.BandwidthBytes(), []byte("drsync-commit "+snap.Name+"\n"))
	if err == nil && strings.TrimSpace(answer.String()) != "committed "+snap.Name {
		err = fmt.Errorf("the host did not confirm the commit (it answered %q)", strings.TrimSpace(answer.String()))
	}
	if err != nil {
		// The caller's ctx may be over; the abort must still run.
		abortCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, abortErr := t.run(abortCtx, "abort", snap.Subvolume, snap.Name); abortErr != nil {
			err = errors.Join(err, abortErr)
		}
		return n, fmt.Errorf("target %s: send %s: %w", t.name, snap.Name, err)
	}
	return n, nil
}

// Open receives a complete replica from the host into scratch (on btrfs)
// for a restore test or a drill.
func (t *Target) Open(ctx context.Context, subvolume, name, scratch string) (string, func() error, error) {
	dest := filepath.Join(scratch, name)
	if _, err := os.Lstat(dest); err == nil {
		return "", nil, fmt.Errorf("open %s: %s already exists", name, dest)
	}
	send, err := t.command("send", subvolume, name)
	if err != nil {
		return "", nil, err
	}
	recv := exec.Command("btrfs", "receive", scratch)
	cleanup := func() error {
		if _, err := btrfs.Info(dest); err != nil {
			return nil // nothing was received
		}
		return btrfs.Delete(context.Background(), dest)
	}
	if _, err := pipe(ctx, send, recv, nil, t.cfg.BandwidthBytes(), nil); err != nil {
		return "", nil, errors.Join(fmt.Errorf("target %s: fetch %s/%s: %w", t.name, subvolume, name, err), cleanup())
	}
	return dest, cleanup, nil
}

// pipe copies from's stdout into to's stdin, counting (and, with a limit,
// pacing) the stream, then, once from succeeded, trailer. It judges from
// before to sees EOF: btrfs receive takes EOF for the end of a stream, so a
// sender that failed must not look like one that finished.
func pipe(ctx context.Context, from, to *exec.Cmd, progress target.Progress, limit int64, trailer []byte) (int64, error) {
	var fromErr, toErr bytes.Buffer
	from.Stderr, to.Stderr = &fromErr, &toErr
	stream, err := from.StdoutPipe()
	if err != nil {
		return 0, err
	}
	toStdin, in, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	to.Stdin = toStdin
	err = to.Start()
	toStdin.Close()
	if err != nil {
		in.Close()
		return 0, fmt.Errorf("start %s: %w", to.Path, err)
	}
	if err := from.Start(); err != nil {
		_ = to.Process.Kill()
		in.Close()
		_ = to.Wait()
		return 0, fmt.Errorf("start %s: %w", from.Path, err)
	}
	stop := context.AfterFunc(ctx, func() {
		_ = from.Process.Kill()
		_ = to.Process.Kill()
	})
	defer stop()
	blame := func(who *exec.Cmd, err error, stderr *bytes.Buffer) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return fmt.Errorf("%s: %w", filepath.Base(who.Path), err)
	}
	pw := &pacedWriter{w: in, pacer: target.NewPacer(limit), progress: progress}
	if copyErr := pw.copyFrom(stream); copyErr != nil {
		_ = from.Process.Kill()
		_ = to.Process.Kill()
		in.Close()
		fromWait, toWait := from.Wait(), to.Wait()
		if toWait != nil {
			return pw.n, blame(to, toWait, &toErr)
		}
		return pw.n, blame(from, errors.Join(copyErr, fromWait), &fromErr)
	}
	if err := from.Wait(); err != nil {
		_ = to.Process.Kill()
		in.Close()
		_ = to.Wait()
		return pw.n, blame(from, err, &fromErr)
	}
	if _, err := in.Write(trailer); err != nil {
		_ = to.Process.Kill()
		in.Close()
		return pw.n, blame(to, errors.Join(err, to.Wait()), &toErr)
	}
	in.Close()
	if err := to.Wait(); err != nil {
		return pw.n, blame(to, err, &toErr)
	}
	return pw.n, nil
}

// pacedWriter counts what passes and, with a limit in bytes per second,
// sleeps so the average rate stays under it.
type pacedWriter struct {
	w        *os.File
	n        int64
	pacer    *target.Pacer
	progress target.Progress
	last     time.Time
}

// copyFrom moves the stream from src, a pipe, into the writer's pipe with
// splice(2): the bytes stay in the kernel, as in `btrfs send | ssh`, while
// they are counted and paced. Where splice is refused it copies.
func (p *pacedWriter) copyFrom(src io.Reader) error {
	f, ok := src.(*os.File)
	if !ok {
		_, err := io.Copy(p, src)
		return err
	}
	// Fd puts both ends in blocking mode: this goroutine waits in splice.
	rfd, wfd := int(f.Fd()), int(p.w.Fd())
	for {
		n, err := unix.Splice(rfd, nil, wfd, nil, 1<<20, unix.SPLICE_F_MOVE|unix.SPLICE_F_MORE)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EINVAL) && p.n == 0:
			_, err := io.Copy(p, f)
			return err
		case err != nil:
			return err
		case n == 0:
			return nil
		}
		p.count(n)
	}
}

func (p *pacedWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.count(int64(n))
	return n, err
}

// count adds n bytes moved, then paces and reports.
func (p *pacedWriter) count(n int64) {
	p.n += n
	p.pacer.Wait(p.n)
	if p.progress != nil && time.Since(p.last) >= 200*time.Millisecond {
		p.last = time.Now()
		p.progress(p.n)
	}
}
