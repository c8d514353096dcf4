package s3

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/drsync/drsync/target"
)

// A service archive is one object, encrypted, and a record written after
// it was checked as stored (see upload): <prefix>services/<service>/<archive>[.age]
// and <…>/<archive>.json. An object without its record is a leftover of an
// interrupted upload, never a copy.

// ArchiveRecord is what an uploaded archive's record says.
type ArchiveRecord struct {
	Archive string `json:"archive"`
	Key     string `json:"key"`
	// Size and SHA256 are of the object as stored.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// PlainSHA256 is the archive's own SHA-256 (its .sha256 sidecar).
	PlainSHA256 string `json:"plainSHA256"`
}

func (t *Target) archiveKey(service, archive string) string {
	key := t.layout.ServiceDir(service) + archive
	if t.Encrypted() {
		key += ".age"
	}
	return key
}

func (t *Target) recordKey(service, archive string) string {
	return t.layout.ServiceDir(service) + archive + ".json"
}

// UploadArchive uploads the archive at path (checked against its .sha256
// sidecar on the way, so a damaged local archive is not shipped as good)
// and records it. An archive the target already holds is refused.
func (t *Target) UploadArchive(ctx context.Context, service, path string, progress target.Progress) (int64, error) {
	name := filepath.Base(path)
	copies, _, err := t.Archives(ctx, service)
	if err != nil {
		return 0, err
	}
	if slices.ContainsFunc(copies, func(c target.Copy) bool { return c.Name == name }) {
		return 0, fmt.Errorf("target %s: %s/%s is there already", t.name, service, name)
	}
	want, err := readSidecar(path + ".sha256")
	if err != nil {
		return 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, _ := f.Stat()
	key := t.archiveKey(service, name)
	var expected int64
	if st != nil {
		expected = st.Size()
	}
	size, sum, err := t.upload(ctx, key, target.PartSize(t.PartSize, expected, t.MaxParts), progress, func(w io.Writer) error {
		enc, err := t.encrypting(w)
		if err != nil {
			return err
		}
		plain := sha256.New()
		if err := copyStream(enc, io.TeeReader(f, plain)); err != nil {
			return err
		}
		if got := hex.EncodeToString(plain.Sum(nil)); got != want {
			return fmt.Errorf("%s has SHA-256 %s, its .sha256 says %s: not uploading a damaged archive", path, got, want)
		}
		return enc.Close()
	})
	if err != nil {
		return 0, err
	}
	rec := ArchiveRecord{Archive: name, Key: key, Size: size, SHA256: sum, PlainSHA256: want}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return 0, err
	}
	return size, t.put(ctx, t.recordKey(service, name), data)
}

// readSidecar reads a `sha256sum` line.
func readSidecar(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("archive checksum: %w", err)
	}
	sum, _, _ := strings.Cut(strings.TrimSpace(string(data)), " ")
	if len(sum) != 64 {
		return "", fmt.Errorf("%s: not a sha256sum line", path)
	}
	return sum, nil
}

// Archives lists a service's recorded archives (oldest first, as their
// names sort) and the objects without a record.
func (t *Target) Archives(ctx context.Context, service string) ([]target.Copy, []target.Object, error) {
	sizes := map[string]int64{}
	var keys []string
	for o := range t.core.Client.ListObjects(ctx, t.cfg.Bucket, minio.ListObjectsOptions{Prefix: t.layout.ServiceDir(service), Recursive: true}) {
		if o.Err != nil {
			return nil, nil, t.wrap("list "+service, o.Err)
		}
		sizes[o.Key] = o.Size
		keys = append(keys, o.Key)
	}
	slices.Sort(keys)
	recorded := map[string]bool{}
	var copies []target.Copy
	for _, key := range keys {
		if !strings.HasSuffix(key, ".json") {
			continue
		}
		recorded[key] = true
		data, err := t.get(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		var rec ArchiveRecord
		c := target.Copy{Name: strings.TrimSuffix(strings.TrimPrefix(key, t.layout.ServiceDir(service)), ".json"), Complete: true}
		dir := t.layout.ServiceDir(service)
		parseErr := json.Unmarshal(data, &rec)
		size, present := sizes[rec.Key]
		switch {
		case parseErr != nil:
			c.Broken = "its record does not parse"
		case rec.Key != dir+rec.Archive && rec.Key != dir+rec.Archive+".age":
			c.Broken = "its record names another object: " + rec.Key
		case !present:
			c.Broken = "the object is missing"
		case size != rec.Size:
			c.Broken = fmt.Sprintf("the object is %d bytes, its record says %d", size, rec.Size)
		}
		c.Bytes = rec.Size
		recorded[rec.Key] = true
		copies = append(copies, c)
	}
	var leftovers []target.Object
	for _, key := range keys {
		if !recorded[key] {
			leftovers = append(leftovers, target.Object{Key: key, Size: sizes[key]})
		}
	}
	return copies, leftovers, nil
}

// CleanupArchives removes a service's unrecorded objects and aborts its
// interrupted multipart uploads.
func (t *Target) CleanupArchives(ctx context.Context, service string) ([]string, error) {
	return t.cleanup(ctx, t.layout.ServiceDir(service), func() ([]target.Object, error) {
		_, leftovers, err := t.Archives(ctx, service)
		return leftovers, err
	})
}

// record reads the record of an archive and checks it names an object of
// the service.
func (t *Target) record(ctx context.Context, service, archive string) (ArchiveRecord, error) {
	data, err := t.get(ctx, t.recordKey(service, archive))
	if err != nil {
		return ArchiveRecord{}, err
	}
	var rec ArchiveRecord
	if err := json.Unmarshal(data, &rec); err != nil || rec.Archive != archive {
		return ArchiveRecord{}, fmt.Errorf("target %s: the record of %s/%s is damaged", t.name, service, archive)
	}
	if !strings.HasPrefix(rec.Key, t.layout.ServiceDir(service)) {
		return ArchiveRecord{}, fmt.Errorf("target %s: the record of %s/%s names %s, outside the service", t.name, service, archive, rec.Key)
	}
	return rec, nil
}

// DeleteArchive removes an archive: its record first, so an interrupted
// delete leaves a leftover, never a record of nothing.
func (t *Target) DeleteArchive(ctx context.Context, service, archive string) error {
	rec, err := t.record(ctx, service, archive)
	if err != nil {
		return err
	}
	for _, key := range []string{t.recordKey(service, archive), rec.Key} {
		if err := t.core.Client.RemoveObject(ctx, t.cfg.Bucket, key, minio.RemoveObjectOptions{}); err != nil {
			return t.wrap("remove "+key, err)
		}
	}
	return nil
}

// OpenArchive downloads an archive into dir, decrypted, with its .sha256
// sidecar, checking the stored object's SHA-256 and the archive's own. On
// any mismatch nothing is left in dir.
func (t *Target) OpenArchive(ctx context.Context, service, archive, dir string) (string, error) {
	rec, err := t.record(ctx, service, archive)
	if err != nil {
		return "", err
	}
	obj, err := t.core.Client.GetObject(ctx, t.cfg.Bucket, rec.Key, minio.GetObjectOptions{})
	if err != nil {
		return "", t.wrap("get "+rec.Key, err)
	}
	defer obj.Close()
	dest := filepath.Join(dir, archive)
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	stored, plain := sha256.New(), sha256.New()
	err = func() error {
		defer f.Close()
		r, err := t.decrypting(io.TeeReader(obj, stored), t.IdentityFile())
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.MultiWriter(f, plain), r); err != nil {
			return fmt.Errorf("target %s: %s: %w", t.name, rec.Key, err)
		}
		if _, err := io.Copy(stored, obj); err != nil {
			return t.wrap("get "+rec.Key, err)
		}
		if got := hex.EncodeToString(stored.Sum(nil)); got != rec.SHA256 {
			return fmt.Errorf("target %s: %s has SHA-256 %s, its record says %s", t.name, rec.Key, got, rec.SHA256)
		}
		if got := hex.EncodeToString(plain.Sum(nil)); got != rec.PlainSHA256 {
			return fmt.Errorf("target %s: %s decrypts to SHA-256 %s, the archive had %s", t.name, archive, got, rec.PlainSHA256)
		}
		return f.Sync()
	}()
	if err == nil {
		err = os.WriteFile(dest+".sha256", []byte(rec.PlainSHA256+"  "+archive+"\n"), 0o600)
	}
	if err != nil {
		return "", errors.Join(err, os.Remove(dest), removeIfExists(dest+".sha256"))
	}
	return dest, nil
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
