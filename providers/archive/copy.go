package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Copy copies the archive src and its checksum into destDir, as a replica
// on another drive: through a temp file, synced, checked against the
// source's checksum while it is written, then published like Create does
// (never over an existing archive). It returns the bytes copied.
func Copy(ctx context.Context, src, destDir string) (int64, error) {
	want, ok, err := readSidecar(src)
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", src, err)
	}
	if !ok {
		return 0, fmt.Errorf("copy %s: no checksum beside it", src)
	}
	if err := os.MkdirAll(destDir, 0o750); err != nil {
		return 0, fmt.Errorf("copy %s: %w", src, err)
	}
	in, err := os.Open(src)
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", src, err)
	}
	defer in.Close()
	dest := filepath.Join(destDir, filepath.Base(src))
	tmp, err := os.CreateTemp(destDir, "."+filepath.Base(src)+".tmp-")
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", src, err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), readerWithContext(ctx, in))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("copy %s: %w", src, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return n, fmt.Errorf("copy %s: the copy's sha256 %s differs from its checksum %s", src, got, want)
	}
	if err := publish(tmp.Name(), dest); err != nil {
		return n, fmt.Errorf("copy %s: %w", src, err)
	}
	if err := writeFileAtomic(dest+sumExt, sidecarLine(want, dest)); err != nil {
		return n, fmt.Errorf("copy %s: %w", src, err)
	}
	return n, syncDir(destDir)
}

// readerWithContext stops a long copy when ctx is done.
func readerWithContext(ctx context.Context, r io.Reader) io.Reader {
	return readerFunc(func(p []byte) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return r.Read(p)
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
