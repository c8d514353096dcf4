package btrfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/safefs"
)

// SendResult describes a completed send.
type SendResult struct {
	Bytes    int64
	Duration time.Duration
}

const progressInterval = 200 * time.Millisecond

// streamChunk is the most one splice moves, and the capacity asked of the
// pipes: fewer wake-ups of send, receive and this process than the
// default 64 KiB pipe of a shell.
const streamChunk = 1 << 20

// countingPipe moves the stream from send's pipe into receive's with
// splice(2), so the bytes stay in the kernel as in `btrfs send | btrfs
// receive` and are only counted here. It reports progress and stops at the
// next chunk once ctx is cancelled rather than when the kill lands.
type countingPipe struct {
	ctx      context.Context
	w        *os.File
	n        int64
	progress func(int64)
	last     time.Time
}

// copyFrom moves everything src holds until EOF; where splice is refused
// (src not a pipe), it copies through this process instead.
func (c *countingPipe) copyFrom(src *os.File) error {
	// Fd puts both ends in blocking mode: this goroutine waits in splice.
	rfd, wfd := int(src.Fd()), int(c.w.Fd())
	for {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		n, err := unix.Splice(rfd, nil, wfd, nil, streamChunk, unix.SPLICE_F_MOVE|unix.SPLICE_F_MORE)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EINVAL) && c.n == 0:
			_, err := io.Copy(c, src)
			return err
		case err != nil:
			return err
		case n == 0:
			return nil
		}
		c.count(n)
	}
}

func (c *countingPipe) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.w.Write(p)
	c.count(int64(n))
	return n, err
}

func (c *countingPipe) count(n int64) {
	c.n += n
	if c.progress != nil && time.Since(c.last) >= progressInterval {
		c.last = time.Now()
		c.progress(c.n)
	}
}

// growPipe asks for a larger pipe buffer; the default is only slower.
func growPipe(f *os.File) {
	_, _ = unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, streamChunk)
}

// Send replicates snapshot into destDir with `btrfs send [-p parent] | btrfs
// receive`, splicing the stream from one pipe to the other here to count
// it. On failure it removes the half-received subvolume so a later run
// cannot mistake it for a replica. progress runs on the calling goroutine.
//
// destDir is opened once with no symlink on the way, and a full stream's
// btrfs receive (which looks its destination up by path for every file it
// writes) is pointed at a private bind mount of that very directory, so
// renaming or replacing a directory on the way (a drill target in a user's
// directory) cannot send the stream anywhere else.
func Send(ctx context.Context, snapshot, parent, destDir string, progress func(int64)) (SendResult, error) {
	start := time.Now()
	name := filepath.Base(snapshot)
	fail := func(err error) (SendResult, error) {
		return SendResult{}, fmt.Errorf("btrfs send %s to %s: %w", snapshot, destDir, err)
	}
	dir, err := safefs.OpenDir(destDir)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(dir)
	// Refuse up front: receive would fail anyway, and the cleanup below must
	// only ever delete a subvolume this call created.
	var st unix.Stat_t
	if err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		return fail(fmt.Errorf("%s already exists", filepath.Join(destDir, name)))
	} else if !errors.Is(err, unix.ENOENT) {
		return fail(err)
	}
	receiveInto := destDir
	if parent == "" {
		// btrfs receive finds an incremental stream's parent by its path
		// from the filesystem's own mount, which a bind mount hides; those
		// go to the drive, whose mount point only root controls.
		pinned, unpin, err := pin(dir)
		if err != nil {
			return fail(err)
		}
		defer unpin()
		receiveInto = pinned
	}

	sendArgs := []string{"send", "-q"}
	if parent != "" {
		sendArgs = append(sendArgs, "-p", parent)
	}
	sendArgs = append(sendArgs, snapshot)
	send := exec.CommandContext(ctx, "btrfs", sendArgs...)
	recv := exec.CommandContext(ctx, "btrfs", "receive", receiveInto)
	var sendErr, recvErr bytes.Buffer
	send.Stderr = &sendErr
	recv.Stderr = &recvErr
	// Two pipes of this process's own (exec's StdinPipe hides the file
	// that splice needs): send -> stream, recvIn -> receive.
	stream, sendOut, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	defer stream.Close()
	recvOut, recvIn, err := os.Pipe()
	if err != nil {
		sendOut.Close()
		return fail(err)
	}
	defer recvIn.Close()
	growPipe(stream)
	growPipe(recvIn)
	send.Stdout, recv.Stdin = sendOut, recvOut
	err = recv.Start()
	recvOut.Close() // receive holds its own copy now
	if err != nil {
		sendOut.Close()
		return fail(fmt.Errorf("start btrfs receive: %w", err))
	}
	err = send.Start()
	sendOut.Close() // send holds its own copy now: EOF comes when it exits
	if err != nil {
		_ = recv.Process.Kill()
		recvIn.Close()
		_ = recv.Wait()
		return fail(fmt.Errorf("start btrfs send: %w", err))
	}

	cp := &countingPipe{ctx: ctx, w: recvIn, progress: progress}
	if err := pump(ctx, cp, stream, send, recv, recvIn, &sendErr, &recvErr); err != nil {
		if cleanErr := removeHalfReceived(dir, name); cleanErr != nil {
			err = errors.Join(err, cleanErr)
		}
		return fail(err)
	}
	return SendResult{Bytes: cp.n, Duration: time.Since(start)}, nil
}

// pump copies the stream and waits for both processes, blaming the side that
// failed first (or ctx).
func pump(ctx context.Context, cp *countingPipe, stream *os.File, send, recv *exec.Cmd, recvIn io.Closer, sendErr, recvErr *bytes.Buffer) error {
	blame := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	if copyErr := cp.copyFrom(stream); copyErr != nil {
		// receive died (EPIPE) or ctx was cancelled: stop both.
		_ = send.Process.Kill()
		_ = recv.Process.Kill()
		recvIn.Close()
		sendWait, recvWait := send.Wait(), recv.Wait()
		if recvWait != nil {
			return blame(fmt.Errorf("btrfs receive: %w%s", recvWait, stderrSuffix(recvErr)))
		}
		return blame(fmt.Errorf("btrfs send: %v: %w%s", copyErr, sendWait, stderrSuffix(sendErr)))
	}
	// Judge send before receive sees EOF: btrfs receive treats EOF as the end
	// of the stream and would finalise a truncated subvolume as a complete
	// replica.
	if err := send.Wait(); err != nil {
		_ = recv.Process.Kill()
		recvIn.Close()
		_ = recv.Wait()
		return blame(fmt.Errorf("btrfs send: %w%s", err, stderrSuffix(sendErr)))
	}
	recvIn.Close()
	if err := recv.Wait(); err != nil {
		return blame(fmt.Errorf("btrfs receive: %w%s", err, stderrSuffix(recvErr)))
	}
	return nil
}

// removeHalfReceived deletes name in dir if receive created it but never
// finished it: received UUID unset, or set but not yet made read-only.
func removeHalfReceived(dir int, name string) error {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect half-received %s: %w", name, err)
	}
	var a getSubvolInfoArgs
	err = ioctl(fd, iocGetSubvolInfo, unsafe.Pointer(&a))
	unix.Close(fd)
	if err != nil {
		return nil // not a subvolume: nothing receive made
	}
	if a.ReceivedUUID != [16]byte{} && a.Flags&rootSubvolRdonly != 0 {
		return nil
	}
	if err := DeleteAt(dir, name); err != nil {
		return fmt.Errorf("remove half-received %s: %w", name, err)
	}
	return nil
}

// pin bind-mounts the directory open at fd on a fresh mount point of its
// own (0700, in the sticky temp directory, so no one else can rename it)
// and returns that path and the function that unmounts and removes it.
func pin(fd int) (string, func(), error) {
	mp, err := os.MkdirTemp("", "drsync-receive-")
	if err != nil {
		return "", nil, fmt.Errorf("receive mount point: %w", err)
	}
	if err := unix.Mount(safefs.ProcPath(fd, ""), mp, "", unix.MS_BIND, ""); err != nil {
		os.Remove(mp)
		return "", nil, fmt.Errorf("bind mount of the receive directory: %w", err)
	}
	return mp, func() {
		unix.Unmount(mp, unix.MNT_DETACH)
		os.Remove(mp)
	}, nil
}
