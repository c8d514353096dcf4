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
func Send(ctx context.Context, snapshot, parent, destDir string, progress func(int64)) (SendResult, error) {
	start := time.Now()
	target := filepath.Join(destDir, filepath.Base(snapshot))
	fail := func(err error) (SendResult, error) {
		return SendResult{}, fmt.Errorf("btrfs send %s to %s: %w", snapshot, destDir, err)
	}
	// Refuse up front: receive would fail anyway, and the cleanup below must
	// only ever delete a subvolume this call created.
	if _, err := os.Lstat(target); err == nil {
		return fail(fmt.Errorf("%s already exists", target))
	} else if !errors.Is(err, os.ErrNotExist) {
		return fail(err)
	}

	sendArgs := []string{"send", "-q"}
	if parent != "" {
		sendArgs = append(sendArgs, "-p", parent)
	}
	sendArgs = append(sendArgs, snapshot)
	send := exec.CommandContext(ctx, "btrfs", sendArgs...)
	recv := exec.CommandContext(ctx, "btrfs", "receive", destDir)
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
		if cleanErr := removeHalfReceived(target); cleanErr != nil {
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

// removeHalfReceived deletes target if receive created it but never
// finished it: received UUID unset, or set but not yet made read-only.
func removeHalfReceived(target string) error {
	sv, err := Info(target)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrNotSubvolume) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect half-received %s: %w", target, err)
	}
	if sv.ReceivedUUID != "" && sv.ReadOnly {
		return nil
	}
	// The caller's ctx may be cancelled; cleanup must still run.
	if err := Delete(context.Background(), target); err != nil {
		return fmt.Errorf("remove half-received %s: %w", target, err)
	}
	return nil
}
