package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"
)

// ErrTooManyParts is returned when a stream outgrows MaxParts parts: the
// upload is aborted, never completed short.
var ErrTooManyParts = errors.New("stream exceeds the multipart limit")

// upload stores r at key in parts of partSize and returns the stored size
// and SHA-256. Memory is one part. Any failure aborts the multipart upload
// (a process that dies instead leaves it for Cleanup); nothing is completed
// unless r ended with io.EOF.
func (t *Target) upload(ctx context.Context, key string, r io.Reader, partSize int64, progress func(int64)) (int64, string, error) {
	id, err := t.core.NewMultipartUpload(ctx, t.cfg.Bucket, key, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return 0, "", t.wrap("upload "+key, err)
	}
	fail := func(err error) (int64, string, error) {
		abortCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if aerr := t.core.AbortMultipartUpload(abortCtx, t.cfg.Bucket, key, id); aerr != nil {
			err = errors.Join(err, t.wrap("abort "+key, aerr))
		}
		return 0, "", err
	}
	h := sha256.New()
	buf := make([]byte, partSize)
	var parts []minio.CompletePart
	var total int64
	for n := 1; ; n++ {
		k, rerr := io.ReadFull(r, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return fail(fmt.Errorf("upload %s: reading the stream: %w", key, rerr))
		}
		if k == 0 && n > 1 {
			break
		}
		if n > t.MaxParts {
			return fail(fmt.Errorf("upload %s: %w: more than %d parts of %d MiB", key, ErrTooManyParts, t.MaxParts, partSize>>20))
		}
		h.Write(buf[:k])
		part, err := t.core.PutObjectPart(ctx, t.cfg.Bucket, key, id, n, bytes.NewReader(buf[:k]), int64(k), minio.PutObjectPartOptions{})
		if err != nil {
			return fail(t.wrap(fmt.Sprintf("upload %s part %d", key, n), err))
		}
		parts = append(parts, minio.CompletePart{PartNumber: n, ETag: part.ETag})
		total += int64(k)
		if progress != nil {
			progress(total)
		}
		if rerr != nil {
			break // the stream ended inside this part
		}
	}
	if _, err := t.core.CompleteMultipartUpload(ctx, t.cfg.Bucket, key, id, parts, minio.PutObjectOptions{}); err != nil {
		return fail(t.wrap("complete "+key, err))
	}
	return total, hex.EncodeToString(h.Sum(nil)), nil
}

// verify reads an object back and checks its size and SHA-256.
func (t *Target) verify(ctx context.Context, key string, size int64, sum string) error {
	obj, err := t.core.Client.GetObject(ctx, t.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return t.wrap("verify "+key, err)
	}
	defer obj.Close()
	h := sha256.New()
	n, err := io.Copy(h, obj)
	if err != nil {
		return t.wrap("verify "+key, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != size || got != sum {
		return fmt.Errorf("target %s: %s reads back as %d bytes with SHA-256 %s, uploaded %d bytes with %s", t.name, key, n, got, size, sum)
	}
	return nil
}

// put stores a small object in one request (manifests, checksums).
func (t *Target) put(ctx context.Context, key string, data []byte) error {
	_, err := t.core.Client.PutObject(ctx, t.cfg.Bucket, key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/json", DisableMultipart: true})
	if err != nil {
		return t.wrap("put "+key, err)
	}
	return nil
}

// get reads a small object.
func (t *Target) get(ctx context.Context, key string) ([]byte, error) {
	obj, err := t.core.Client.GetObject(ctx, t.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, t.wrap("get "+key, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(io.LimitReader(obj, 16<<20))
	if err != nil {
		return nil, t.wrap("get "+key, err)
	}
	return data, nil
}

// encrypting returns a writer that encrypts into w when the target has
// recipients (age's STREAM format authenticates every 64 KiB chunk and the
// end, so a truncated or altered object fails to decrypt); Close finishes
// it. Without recipients, which only the plaintext consent allows, it
// passes through.
func (t *Target) encrypting(w io.Writer) (io.WriteCloser, error) {
	if !t.Encrypted() {
		return nopCloser{w}, nil
	}
	return age.Encrypt(w, t.recipients...)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// decrypting reads what encrypting wrote, with the identities in
// identityFile.
func (t *Target) decrypting(r io.Reader, identityFile string) (io.Reader, error) {
	if !t.Encrypted() {
		return r, nil
	}
	ids, err := readIdentities(identityFile)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.name, err)
	}
	dr, err := age.Decrypt(r, ids...)
	if err != nil {
		return nil, fmt.Errorf("target %s: decrypt: %w", t.name, err)
	}
	return dr, nil
}
