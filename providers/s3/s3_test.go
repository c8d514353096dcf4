package s3

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/target"
)

const bucket = "mcp-backups"

// bench is a versitygw over a temp directory with a bucket, an age key
// pair, and a target declared against them.
type bench struct {
	server   *Server
	cfg      schema.Target
	identity string // age identity file
	dir      string
}

func newBench(t *testing.T) *bench {
	t.Helper()
	if _, err := Versitygw(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	srv, err := StartServer(t.Context(), dir, promtest.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Kill() })
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	identity := filepath.Join(dir, "offsite.agekey")
	if err := os.WriteFile(identity, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &bench{server: srv, identity: identity, dir: dir, cfg: schema.Target{
		Kind: schema.TargetS3, Endpoint: srv.Endpoint, Region: "us-east-1", Bucket: bucket, Prefix: "monitoring/",
		CredentialsFile: srv.Credentials, FullEvery: 2, PartSizeMiB: 5,
		Encryption: &schema.Encryption{Recipients: []string{id.Recipient().String()}, IdentityFile: identity},
	}}
	tg := b.target(t)
	if err := tg.core.Client.MakeBucket(t.Context(), bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *bench) target(t *testing.T) *Target {
	t.Helper()
	tg, err := New("s3-secondary", b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// stored reads every file the server keeps, as a thief of the bucket would.
func (b *bench) stored(t *testing.T) []byte {
	t.Helper()
	var all bytes.Buffer
	filepath.WalkDir(b.server.Data, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			data, _ := os.ReadFile(p)
			all.Write(data)
		}
		return nil
	})
	return all.Bytes()
}

// storedFile is the server's file for an object key.
func (b *bench) storedFile(key string) string {
	return filepath.Join(b.server.Data, bucket, key)
}

// source is a local subvolume on loop-mounted btrfs with snapshots beside
// it and a scratch directory for restores.
type source struct {
	path, snapdir, scratch string
}

func newSource(t *testing.T) source {
	t.Helper()
	mnt := sandbox.TestFS(t, 256)
	s := source{path: filepath.Join(mnt, "home"), snapdir: filepath.Join(mnt, "snapshots"), scratch: filepath.Join(mnt, "scratch")}
	if err := btrfs.Create(t.Context(), s.path); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{s.snapdir, s.scratch} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// write puts a file of recognisable plaintext (a marker line repeated, then
// random bytes) into the source.
func (s source) write(t *testing.T, name, marker string, size int) []byte {
	t.Helper()
	data := bytes.Repeat([]byte(marker+"\n"), 64)
	rest := make([]byte, size)
	rand.Read(rest)
	data = append(data, rest...)
	if err := os.WriteFile(filepath.Join(s.path, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

func (s source) snapshot(t *testing.T, name string) target.Snapshot {
	t.Helper()
	p := filepath.Join(s.snapdir, name)
	if err := btrfs.Snapshot(t.Context(), s.path, p); err != nil {
		t.Fatal(err)
	}
	return target.Snapshot{Subvolume: "home", Name: name, Path: p}
}

// send sends snap as target.NextSend decides, as the planner will.
func send(t *testing.T, tg *Target, snap target.Snapshot, fullEvery int) target.Send {
	t.Helper()
	chains, _, err := tg.Chains(t.Context(), "home")
	if err != nil {
		t.Fatal(err)
	}
	next := target.NextSend(chains, snap.Name, fullEvery, func(string) bool { return true })
	if _, err := tg.Receive(t.Context(), snap, next.Parent, nil); err != nil {
		t.Fatalf("send %s (%s): %v", snap.Name, next.Reason, err)
	}
	return next
}

func restorable(t *testing.T, tg *Target) []string {
	t.Helper()
	copies, err := tg.List(t.Context(), "home")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range copies {
		if c.Restorable() {
			out = append(out, c.Name)
		}
	}
	return out
}

func TestChainsOnS3(t *testing.T) {
	b := newBench(t)
	src := newSource(t)
	tg := b.target(t)
	ctx := t.Context()
	if err := tg.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	src.write(t, "thesis.tex", "PLAINTEXT-MARKER-thesis", 2<<20)
	s1 := src.snapshot(t, "home.20261101T0200")
	if next := send(t, tg, s1, 2); next.Parent != "" {
		t.Fatalf("first send %+v, want full", next)
	}
	changed := src.write(t, "notes.txt", "PLAINTEXT-MARKER-notes", 10<<10)
	s2 := src.snapshot(t, "home.20261108T0200")
	if next := send(t, tg, s2, 2); next.Parent != s1.Name {
		t.Fatalf("second send %+v, want incremental from %s", next, s1.Name)
	}
	s3 := src.snapshot(t, "home.20261115T0200")
	if next := send(t, tg, s3, 2); next.Parent != "" || next.Chain != s3.Name {
		t.Fatalf("third send %+v: fullEvery 2 wants a new chain", next)
	}
	chains, leftovers, err := tg.Chains(ctx, "home")
	if err != nil {
		t.Fatal(err)
	}
	if len(chains) != 2 || len(leftovers) != 0 || len(chains[0].Manifest.Streams) != 2 {
		t.Fatalf("chains %+v leftovers %v", chains, leftovers)
	}
	if incr, full := chains[0].Manifest.Streams[1].Size, chains[0].Manifest.Streams[0].Size; incr > 256<<10 || full < 2<<20 {
		t.Errorf("full stream %d bytes, incremental %d: want the incremental to carry about the 10 KiB change", full, incr)
	}
	if got := restorable(t, tg); !slices.Equal(got, []string{s1.Name, s2.Name, s3.Name}) {
		t.Fatalf("restorable %v", got)
	}
	// Nothing of the plaintext reaches the server.
	if all := b.stored(t); bytes.Contains(all, []byte("PLAINTEXT-MARKER")) {
		t.Fatal("plaintext sample content found in the S3 server's storage")
	} else if len(all) < 2<<20 {
		t.Fatalf("the server holds only %d bytes", len(all))
	}

	// Restore: download, decrypt, receive the chain up to s2.
	tree, cleanup, err := tg.Open(ctx, "home", s2.Name, src.scratch)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(tree, "notes.txt"))
	if err != nil || !bytes.Equal(got, changed) {
		t.Errorf("restored notes.txt differs (err %v)", err)
	}
	if entries, _ := os.ReadDir(src.scratch); len(entries) != 1 {
		t.Errorf("scratch holds %d entries, want only the restored snapshot", len(entries))
	}
	if err := cleanup(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(src.scratch); len(entries) != 0 {
		t.Errorf("cleanup left %d entries in scratch", len(entries))
	}

	// Retention keeps s3 only: the older chain goes whole.
	for _, c := range target.Prune(chains, func(s string) bool { return s == s3.Name }) {
		if err := tg.Delete(ctx, "home", c.Name); err != nil {
			t.Fatal(err)
		}
	}
	if got := restorable(t, tg); !slices.Equal(got, []string{s3.Name}) {
		t.Errorf("after prune: %v", got)
	}
}

func TestKilledMidUploadThenNextApply(t *testing.T) {
	b := newBench(t)
	src := newSource(t)
	tg := b.target(t)
	src.write(t, "big", "PLAINTEXT-MARKER-big", 24<<20)
	snap := src.snapshot(t, "home.20261101T0200")
	// The server dies once the first 5 MiB part is in.
	killed := false
	_, err := tg.Receive(t.Context(), snap, "", func(n int64) {
		if !killed {
			killed = true
			if err := b.server.Kill(); err != nil {
				t.Error(err)
			}
		}
	})
	if err == nil {
		t.Fatal("upload succeeded although the server was killed")
	}
	t.Logf("upload failed as it should: %v", err)
	if err := b.server.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := restorable(t, tg); len(got) != 0 {
		t.Fatalf("a partial upload was taken for a copy: %v", got)
	}
	uploads := func() int {
		n := 0
		for range tg.core.Client.ListIncompleteUploads(t.Context(), bucket, "", true) {
			n++
		}
		return n
	}
	if uploads() == 0 {
		t.Fatal("no interrupted multipart upload to clean up: the test did not interrupt anything")
	}
	// The next apply's send first aborts what the last one left.
	if _, err := tg.Receive(t.Context(), snap, "", nil); err != nil {
		t.Fatal(err)
	}
	if n := uploads(); n != 0 {
		t.Errorf("%d interrupted uploads remain", n)
	}
	if got := restorable(t, tg); !slices.Equal(got, []string{snap.Name}) {
		t.Errorf("after the resend: %v", got)
	}
}

func TestTooManyPartsFailsInsteadOfTruncating(t *testing.T) {
	b := newBench(t)
	src := newSource(t)
	tg := b.target(t)
	tg.MaxParts = 2 // 10 MiB at 5 MiB parts; the stream is 16 MiB
	src.write(t, "big", "x", 16<<20)
	snap := src.snapshot(t, "home.20261101T0200")
	// Sized from the filesystem, parts would grow to fit; pin them.
	tg.PartSize = 5 << 20
	key := tg.layout.StreamKey("home", snap.Name, 0, snap.Name, true)
	size, _, err := tg.uploadCommand(t.Context(), sendCommand(snap, ""), key, 5<<20, nil)
	if !errors.Is(err, ErrTooManyParts) {
		t.Fatalf("upload of a stream over the part limit: %d bytes, %v; want ErrTooManyParts", size, err)
	}
	if _, err := tg.core.Client.StatObject(t.Context(), bucket, key, minio.StatObjectOptions{}); err == nil {
		t.Error("a truncated object was stored")
	}
	for u := range tg.core.Client.ListIncompleteUploads(t.Context(), bucket, "", true) {
		t.Errorf("upload left behind: %+v", u)
	}
}

func TestWrongCredentialsMissingBucketUnreachable(t *testing.T) {
	b := newBench(t)
	cfg := b.cfg
	cfg.CredentialsFile = filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(cfg.CredentialsFile, []byte("access_key_id = drsync\nsecret_access_key = not-the-secret\n"), 0o600)
	tg, err := New("s3-secondary", cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = tg.Probe(t.Context())
	if err == nil || errors.Is(err, target.ErrUnreachable) || strings.Contains(err.Error(), "not-the-secret") {
		t.Errorf("wrong credentials: %v; want an error (not deferred) without the secret", err)
	}
	cfg = b.cfg
	cfg.Bucket = "no-such-bucket"
	if err := b.targetWith(t, cfg).Probe(t.Context()); err == nil || !strings.Contains(err.Error(), "bucket no-such-bucket does not exist") {
		t.Errorf("missing bucket: %v", err)
	}
	cfg = b.cfg
	cfg.Endpoint = "http://" + promtest.FreeAddr(t)
	if err := b.targetWith(t, cfg).Probe(t.Context()); !errors.Is(err, target.ErrUnreachable) {
		t.Errorf("closed port: %v, want unreachable", err)
	}
	// Credentials files are checked line by line, values never echoed.
	cfg.CredentialsFile = filepath.Join(t.TempDir(), "bad")
	os.WriteFile(cfg.CredentialsFile, []byte("access_key_id = a\npassword = hunter2\n"), 0o600)
	if _, err := New("x", cfg); err == nil || !strings.Contains(err.Error(), ":2: unknown key \"password\"") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad credentials file: %v", err)
	}
	noEnc := b.cfg
	noEnc.Encryption = nil
	if _, err := New("x", noEnc); err == nil {
		t.Error("a target without encryption and without consent to plaintext was built")
	}
}

func (b *bench) targetWith(t *testing.T, cfg schema.Target) *Target {
	t.Helper()
	tg, err := New("s3-secondary", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestRestoreCatchesDamage(t *testing.T) {
	b := newBench(t)
	src := newSource(t)
	tg := b.target(t)
	src.write(t, "thesis.tex", "PLAINTEXT-MARKER", 1<<20)
	s1 := src.snapshot(t, "home.20261101T0200")
	send(t, tg, s1, 4)
	src.write(t, "notes.txt", "more", 4<<10)
	s2 := src.snapshot(t, "home.20261108T0200")
	send(t, tg, s2, 4)
	empty := func() {
		t.Helper()
		if entries, _ := os.ReadDir(src.scratch); len(entries) != 0 {
			t.Errorf("a failed restore left %d entries in scratch", len(entries))
		}
	}

	t.Run("wrong age identity", func(t *testing.T) {
		other, _ := age.GenerateX25519Identity()
		wrong := filepath.Join(t.TempDir(), "other.agekey")
		os.WriteFile(wrong, []byte(other.String()+"\n"), 0o600)
		tg := b.target(t)
		tg.UseIdentity(wrong)
		_, _, err := tg.Open(t.Context(), "home", s2.Name, src.scratch)
		if err == nil || !strings.Contains(err.Error(), "did not match any of the recipients") {
			t.Errorf("restore with a wrong identity: %v", err)
		}
		empty()
	})

	key := tg.layout.StreamKey("home", s1.Name, 1, s2.Name, true)
	file := b.storedFile(key)
	orig, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("tampered object", func(t *testing.T) {
		bad := bytes.Clone(orig)
		bad[len(bad)/2] ^= 0x01
		if err := os.WriteFile(file, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(file, orig, 0o644)
		_, _, err := tg.Open(t.Context(), "home", s2.Name, src.scratch)
		if err == nil {
			t.Fatal("a tampered stream was restored")
		}
		t.Logf("caught: %v", err)
		empty()
	})
	t.Run("missing object breaks the chain; the next send starts a new one", func(t *testing.T) {
		if err := os.Remove(file); err != nil {
			t.Fatal(err)
		}
		if got := restorable(t, tg); !slices.Equal(got, []string{s1.Name}) {
			t.Errorf("restorable after losing stream 1: %v, want only %s", got, s1.Name)
		}
		copies, _ := tg.List(t.Context(), "home")
		if i := slices.IndexFunc(copies, func(c target.Copy) bool { return c.Name == s2.Name }); i < 0 || !strings.Contains(copies[i].Broken, "is missing") {
			t.Errorf("copies %+v: want %s reported broken", copies, s2.Name)
		}
		s3 := src.snapshot(t, "home.20261115T0200")
		if next := send(t, tg, s3, 4); next.Parent != "" || !strings.Contains(next.Reason, "broken") {
			t.Errorf("send after a break: %+v, want a new full chain because of the break", next)
		}
		if got := restorable(t, tg); !slices.Equal(got, []string{s1.Name, s3.Name}) {
			t.Errorf("restorable: %v", got)
		}
	})
}

func TestServiceArchives(t *testing.T) {
	b := newBench(t)
	tg := b.target(t)
	dir := t.TempDir()
	archive := filepath.Join(dir, "grafana-db.20261122T0100.tar.gz")
	content := append([]byte("PLAINTEXT-MARKER-archive\n"), make([]byte, 7<<20)...)
	rand.Read(content[30:])
	os.WriteFile(archive, content, 0o600)
	sum := sha256.Sum256(content)
	os.WriteFile(archive+".sha256", []byte(hex.EncodeToString(sum[:])+"  grafana-db.20261122T0100.tar.gz\n"), 0o600)

	if _, err := tg.UploadArchive(t.Context(), "grafana-db", archive, nil); err != nil {
		t.Fatal(err)
	}
	rec, err := tg.record(t.Context(), "grafana-db", "grafana-db.20261122T0100.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	if rec.PlainSHA256 != hex.EncodeToString(sum[:]) || rec.SHA256 == rec.PlainSHA256 {
		t.Errorf("record %+v", rec)
	}
	if _, err := tg.UploadArchive(t.Context(), "grafana-db", archive, nil); err == nil {
		t.Error("an archive was uploaded over its existing copy")
	}
	if bytes.Contains(b.stored(t), []byte("PLAINTEXT-MARKER")) {
		t.Fatal("plaintext archive content found in the S3 server's storage")
	}
	copies, leftovers, err := tg.Archives(t.Context(), "grafana-db")
	if err != nil || len(copies) != 1 || !copies[0].Restorable() || len(leftovers) != 0 {
		t.Fatalf("archives %+v leftovers %v err %v", copies, leftovers, err)
	}
	restore := t.TempDir()
	got, err := tg.OpenArchive(t.Context(), "grafana-db", rec.Archive, restore)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(got); !bytes.Equal(data, content) {
		t.Error("the archive read back differs")
	}
	// A tampered object is caught and leaves nothing behind.
	file := b.storedFile(rec.Key)
	stored, _ := os.ReadFile(file)
	stored[len(stored)-100] ^= 0x80
	os.WriteFile(file, stored, 0o644)
	again := t.TempDir()
	if _, err := tg.OpenArchive(t.Context(), "grafana-db", rec.Archive, again); err == nil {
		t.Error("a tampered archive was restored")
	}
	if entries, _ := os.ReadDir(again); len(entries) != 0 {
		t.Errorf("a failed archive restore left %d files", len(entries))
	}
	// A local archive that no longer matches its checksum is not shipped.
	damaged := filepath.Join(dir, "grafana-db.20261123T0100.tar.gz")
	os.WriteFile(damaged, content[1:], 0o600)
	os.WriteFile(damaged+".sha256", []byte(hex.EncodeToString(sum[:])+"  grafana-db.20261123T0100.tar.gz\n"), 0o600)
	if _, err := tg.UploadArchive(t.Context(), "grafana-db", damaged, nil); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("damaged local archive: %v", err)
	}
	if _, leftovers, _ := tg.Archives(t.Context(), "grafana-db"); len(leftovers) != 0 {
		t.Errorf("the refused upload left %v", leftovers)
	}
	if err := tg.DeleteArchive(t.Context(), "grafana-db", rec.Archive); err != nil {
		t.Fatal(err)
	}
	if copies, leftovers, _ := tg.Archives(t.Context(), "grafana-db"); len(copies)+len(leftovers) != 0 {
		t.Errorf("after delete: %v %v", copies, leftovers)
	}
}
