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

// countingWriter counts the stream, reports progress, and stops the copy as
// soon as ctx is cancelled rather than when the kill lands.
type countingWriter struct {
	ctx      context.Context
	w        io.Writer
	n        int64
	progress func(int64)
	last     time.Time
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.progress != nil && time.Since(c.last) >= progressInterval {
		c.last = time.Now()
		c.progress(c.n)
	}
	return n, err
}

// Send replicates snapshot into destDir with `btrfs send [-p parent] | btrfs
// receive`, piping the stream through this process to count it. On failure
// it removes the half-received subvolume so a later run cannot mistake it
// for a replica. progress runs on the calling goroutine.
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
	stream, err := send.StdoutPipe()
	if err != nil {
		return fail(err)
	}
	recvIn, err := recv.StdinPipe()
	if err != nil {
		return fail(err)
	}
	if err := recv.Start(); err != nil {
		stream.Close()
		return fail(fmt.Errorf("start btrfs receive: %w", err))
	}
	if err := send.Start(); err != nil {
		_ = recv.Process.Kill()
		recvIn.Close()
		_ = recv.Wait()
		return fail(fmt.Errorf("start btrfs send: %w", err))
	}

	cw := &countingWriter{ctx: ctx, w: recvIn, progress: progress}
	if err := pump(ctx, cw, stream, send, recv, recvIn, &sendErr, &recvErr); err != nil {
		if cleanErr := removeHalfReceived(dir, name); cleanErr != nil {
			err = errors.Join(err, cleanErr)
		}
		return fail(err)
	}
	return SendResult{Bytes: cw.n, Duration: time.Since(start)}, nil
}

// pump copies the stream and waits for both processes, blaming the side that
// failed first (or ctx).
func pump(ctx context.Context, cw *countingWriter, stream io.Reader, send, recv *exec.Cmd, recvIn io.Closer, sendErr, recvErr *bytes.Buffer) error {
	blame := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	if _, copyErr := io.Copy(cw, stream); copyErr != nil {
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
