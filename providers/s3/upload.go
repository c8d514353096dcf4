package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"github.com/drsync/drsync/target"
)

// ErrTooManyParts is returned when a stream outgrows MaxParts parts: the
// upload is aborted, never completed short.
var ErrTooManyParts = errors.New("stream exceeds the multipart limit")

// uploadMemory bounds the part buffers of one upload: parts go up
// concurrently (the network and the server work while the next part is
// read and encrypted), as many as fit, at least one.
const uploadMemory = 128 << 20

// maxConcurrentParts caps the parts in flight at the default part size.
const maxConcurrentParts = 4

// concurrency is how many parts of partSize are in flight at once.
func concurrency(partSize int64) int {
	return max(1, min(maxConcurrentParts, int(uploadMemory/max(partSize, 1))))
}

// upload stores at key what write writes (called once, in this
// goroutine), cut into parts of partSize as it is written, with no pipe or
// copy between the writer and the part buffers, and returns the stored
// size and SHA-256. Memory is concurrency(partSize) parts. Each part's MD5
// is taken from the bytes as they are sent, and the ETag the server answers
// must be that MD5 (bytes damaged on the way, or stored as others, fail
// the upload; hashing before sending would delay every part); the completed
// object's ETag must be S3's MD5 of the parts' MD5s and its size the bytes
// sent (checked with one HEAD). So the object is checked as the server
// stored it without reading it back; only a server whose ETags are no MD5s
// (SSE-KMS, SSE-C) makes the upload read the object back instead. Any
// failure aborts the multipart upload (a process that dies instead leaves
// it for Cleanup); nothing is completed unless write returned nil.
func (t *Target) upload(ctx context.Context, key string, partSize int64, progress func(int64), write func(io.Writer) error) (int64, string, error) {
	id, err := t.core.NewMultipartUpload(ctx, t.cfg.Bucket, key, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return 0, "", t.wrap("upload "+key, err)
	}
	fail := func(err error) (int64, string, error) {
		abortCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if aerr := t.abort(abortCtx, key, id); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return 0, "", err
	}
	up := &partUploader{t: t, key: key, id: id, free: make(chan []byte, concurrency(partSize)), sha: sha256.New(), hashed: closed()}
	up.ctx, up.cancel = context.WithCancel(ctx)
	defer up.cancel()
	for range cap(up.free) {
		up.free <- make([]byte, partSize)
	}
	parts := &partWriter{up: up, maxParts: t.MaxParts, partSize: partSize, progress: progress}
	werr := write(target.PacedWriter(parts, t.cfg.BandwidthBytes()))
	if werr == nil {
		werr = parts.finish()
	}
	// A failed part cancels the others and so the writer: its error is
	// the part's, not the writer's. A writer that failed on its own lets
	// the parts in flight finish: a part cancelled mid-request can still be
	// stored by the server after the abort, which revives the upload.
	partFailed := up.ctx.Err() != nil
	done, md5s, opaque, uerr := up.wait()
	switch {
	case werr != nil && !partFailed:
		return fail(fmt.Errorf("upload %s: %w", key, werr))
	case uerr != nil:
		return fail(uerr)
	case werr != nil:
		return fail(werr)
	}
	total := parts.total
	info, err := t.core.CompleteMultipartUpload(ctx, t.cfg.Bucket, key, id, done, minio.PutObjectOptions{})
	if err != nil {
		return fail(t.wrap("complete "+key, err))
	}
	sum := hex.EncodeToString(up.sha.Sum(nil))
	if opaque {
		return total, sum, t.verify(ctx, key, total, sum)
	}
	want := compositeETag(md5s)
	if got := trimETag(info.ETag); got != want {
		return 0, "", fmt.Errorf("target %s: %s was completed with ETag %s, the parts sent make %s", t.name, key, got, want)
	}
	st, err := t.core.Client.StatObject(ctx, t.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return 0, "", t.wrap("stat "+key, err)
	}
	if got := trimETag(st.ETag); st.Size != total || got != want {
		return 0, "", fmt.Errorf("target %s: %s is stored as %d bytes with ETag %s, %d bytes with ETag %s were sent", t.name, key, st.Size, got, total, want)
	}
	return total, sum, nil
}

// abort aborts the multipart upload id and checks that the server no
// longer lists it, aborting again while it does: a part request the server
// was still handling can bring an aborted upload back.
func (t *Target) abort(ctx context.Context, key, id string) error {
	for attempt := range 5 {
		if err := t.core.AbortMultipartUpload(ctx, t.cfg.Bucket, key, id); err != nil {
			return t.wrap("abort "+key, err)
		}
		listed, err := t.uploadListed(ctx, key, id)
		if err != nil || !listed {
			return err
		}
		select {
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		case <-ctx.Done():
			return t.wrap("abort "+key, ctx.Err())
		}
	}
	return fmt.Errorf("target %s: the upload of %s (%s) is still listed after aborting it 5 times", t.name, key, id)
}

// uploadListed says whether the server lists the multipart upload id of key.
func (t *Target) uploadListed(ctx context.Context, key, id string) (bool, error) {
	for u := range t.core.Client.ListIncompleteUploads(ctx, t.cfg.Bucket, key, false) {
		if u.Err != nil {
			return false, t.wrap("list uploads of "+key, u.Err)
		}
		if u.Key == key && u.UploadID == id {
			return true, nil
		}
	}
	return false, nil
}

// partWriter cuts what is written into the uploader's part buffers and
// starts each part as it fills; finish starts the last one.
type partWriter struct {
	up       *partUploader
	maxParts int
	partSize int64
	progress func(int64)
	buf      []byte // the part being filled (nil: none taken yet)
	filled   int
	parts    int
	total    int64
}

func (w *partWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if w.buf == nil {
			select {
			case w.buf = <-w.up.free:
			case <-w.up.ctx.Done():
				return written, w.up.ctx.Err()
			}
		}
		n := copy(w.buf[w.filled:], p)
		w.filled += n
		written += n
		p = p[n:]
		if w.filled == len(w.buf) {
			if err := w.flush(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// flush starts the part being filled, refusing one past the part limit.
func (w *partWriter) flush() error {
	if w.parts == w.maxParts {
		return fmt.Errorf("%w: more than %d parts of %d MiB", ErrTooManyParts, w.maxParts, w.partSize>>20)
	}
	w.parts++
	w.up.start(w.parts, w.buf, w.filled)
	w.total += int64(w.filled)
	w.buf, w.filled = nil, 0
	if w.progress != nil {
		w.progress(w.total)
	}
	return nil
}

// finish starts the last part: what is left, or one empty part for an
// empty stream (a multipart upload needs one).
func (w *partWriter) finish() error {
	if w.filled == 0 && w.parts > 0 {
		return nil
	}
	if w.buf == nil {
		select {
		case w.buf = <-w.up.free:
		case <-w.up.ctx.Done():
			return w.up.ctx.Err()
		}
	}
	return w.flush()
}

// partUploader puts parts concurrently, each from its own buffer, which
// goes back to free once the server has it. Each part also adds itself to
// the stream's SHA-256, in order, while the next part is read.
type partUploader struct {
	t       *Target
	key, id string
	ctx     context.Context
	cancel  context.CancelFunc
	free    chan []byte
	sha     hash.Hash
	// hashed is closed once the last started part is in sha.
	hashed <-chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	parts  []minio.CompletePart
	md5s   [][]byte
	opaque bool
	err    error
}

func closed() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// start uploads part n from buf[:k]. Its MD5 is taken from the bytes as
// they are sent, and the stream's SHA-256 (in part order) alongside, so
// neither hash delays the part; buf goes back to free once both are done.
func (u *partUploader) start(n int, buf []byte, k int) {
	u.wg.Add(1)
	prev, hashed := u.hashed, make(chan struct{})
	u.hashed = hashed
	go func() {
		<-prev
		u.sha.Write(buf[:k])
		close(hashed)
	}()
	go func() {
		defer u.wg.Done()
		body := &md5Reader{r: bytes.NewReader(buf[:k]), h: md5.New()}
		// The part's ETag is checked against the MD5 of what was sent;
		// signing its SHA-256 too (on plain http) would hash every byte
		// once more for nothing.
		part, err := u.t.core.PutObjectPart(u.ctx, u.t.cfg.Bucket, u.key, u.id, n, body, int64(k),
			minio.PutObjectPartOptions{DisableContentSha256: true})
		sum := body.sum(buf[:k])
		<-hashed
		u.free <- buf
		u.mu.Lock()
		defer u.mu.Unlock()
		etag := trimETag(part.ETag)
		switch {
		case err != nil:
			err = u.t.wrap(fmt.Sprintf("upload %s part %d", u.key, n), err)
		case !isMD5(etag):
			u.opaque = true // not an MD5: the object is read back instead
		case etag != hex.EncodeToString(sum):
			err = fmt.Errorf("target %s: %s part %d: the server stored ETag %s for a part whose MD5 is %x", u.t.name, u.key, n, etag, sum)
		}
		if err != nil {
			if u.err == nil {
				u.err = err
			}
			u.cancel()
			return
		}
		u.parts = append(u.parts, minio.CompletePart{PartNumber: n, ETag: part.ETag})
		u.md5s = append(u.md5s, append([]byte{byte(n >> 8), byte(n)}, sum...))
	}()
}

// md5Reader hashes a part as the client reads it to send it. It stays
// seekable, so the client can retry the part; a retry rewinds to the start
// and starts the hash again.
type md5Reader struct {
	r *bytes.Reader
	h hash.Hash
	// read counts the bytes hashed since the start; skipped says a seek
	// went elsewhere than the start, so the hash no longer covers the part.
	read    int64
	skipped bool
}

func (m *md5Reader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.h.Write(p[:n])
	m.read += int64(n)
	return n, err
}

func (m *md5Reader) Seek(offset int64, whence int) (int64, error) {
	pos, err := m.r.Seek(offset, whence)
	switch {
	case err != nil:
	case pos == 0:
		m.h.Reset()
		m.read, m.skipped = 0, false
	case pos != m.read:
		m.skipped = true
	}
	return pos, err
}

// sum is the MD5 of part: the one taken while sending when it covers the
// whole part exactly once, else computed again.
func (m *md5Reader) sum(part []byte) []byte {
	if !m.skipped && m.read == int64(len(part)) {
		return m.h.Sum(nil)
	}
	sum := md5.Sum(part)
	return sum[:]
}

// wait returns the parts in order, their MD5s, whether any ETag was
// opaque, and the first error.
func (u *partUploader) wait() ([]minio.CompletePart, [][]byte, bool, error) {
	u.wg.Wait()
	if u.err != nil {
		return nil, nil, false, u.err
	}
	slices.SortFunc(u.parts, func(a, b minio.CompletePart) int { return a.PartNumber - b.PartNumber })
	slices.SortFunc(u.md5s, func(a, b []byte) int { return bytes.Compare(a[:2], b[:2]) })
	md5s := make([][]byte, len(u.md5s))
	for i, m := range u.md5s {
		md5s[i] = m[2:]
	}
	return u.parts, md5s, u.opaque, nil
}

// compositeETag is S3's ETag of a multipart object: the MD5 of its parts'
// MD5s, then "-" and the number of parts.
func compositeETag(md5s [][]byte) string {
	h := md5.New()
	for _, m := range md5s {
		h.Write(m)
	}
	return fmt.Sprintf("%x-%d", h.Sum(nil), len(md5s))
}

func trimETag(etag string) string { return strings.Trim(etag, `"`) }

func isMD5(etag string) bool {
	_, err := hex.DecodeString(etag)
	return err == nil && len(etag) == 32
}

// verify reads an object back and checks its size and SHA-256 (for
// servers whose ETags are not MD5s).
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
