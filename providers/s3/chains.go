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
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"
	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/target"
)

// Chains reads a subvolume's chains and the objects no manifest lists.
func (t *Target) Chains(ctx context.Context, subvolume string) ([]target.Chain, []target.Object, error) {
	var objects []target.Object
	manifests := map[string]target.Manifest{}
	for o := range t.core.Client.ListObjects(ctx, t.cfg.Bucket, minio.ListObjectsOptions{Prefix: t.layout.SubvolumeDir(subvolume), Recursive: true}) {
		if o.Err != nil {
			return nil, nil, t.wrap("list "+subvolume, o.Err)
		}
		objects = append(objects, target.Object{Key: o.Key, Size: o.Size})
	}
	for _, o := range objects {
		chain := target.ChainOfManifest(t.layout, subvolume, o.Key)
		if chain == "" {
			continue
		}
		data, err := t.get(ctx, o.Key)
		if err != nil {
			return nil, nil, err
		}
		var m target.Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			// A manifest that does not parse proves nothing: its chain is
			// broken, not trusted.
			m = target.Manifest{Version: -1, Subvolume: subvolume, Chain: chain}
		}
		manifests[chain] = m
	}
	chains, leftovers := target.Analyze(t.layout, subvolume, objects, manifests)
	return chains, leftovers, nil
}

// List returns the snapshots the subvolume's chains can restore (and those
// a broken chain lost, marked broken), oldest first.
func (t *Target) List(ctx context.Context, subvolume string) ([]target.Copy, error) {
	chains, _, err := t.Chains(ctx, subvolume)
	if err != nil {
		return nil, err
	}
	return target.Copies(chains), nil
}

// Cleanup removes what interrupted uploads left under a subvolume's
// prefix: multipart uploads never completed, and stream objects no
// manifest lists. It returns the keys it removed.
func (t *Target) Cleanup(ctx context.Context, subvolume string) ([]string, error) {
	return t.cleanup(ctx, t.layout.SubvolumeDir(subvolume), func() ([]target.Object, error) {
		_, leftovers, err := t.Chains(ctx, subvolume)
		return leftovers, err
	})
}

// cleanup aborts the incomplete multipart uploads under prefix, then
// removes the objects leftovers lists (read after the aborts, so what the
// aborts settled is listed as it is now).
func (t *Target) cleanup(ctx context.Context, prefix string, leftovers func() ([]target.Object, error)) ([]string, error) {
	var removed []string
	for u := range t.core.Client.ListIncompleteUploads(ctx, t.cfg.Bucket, prefix, true) {
		if u.Err != nil {
			return removed, t.wrap("list uploads", u.Err)
		}
		if err := t.abort(ctx, u.Key, u.UploadID); err != nil {
			return removed, err
		}
		removed = append(removed, u.Key+" (upload "+u.UploadID+")")
	}
	objects, err := leftovers()
	if err != nil {
		return removed, err
	}
	for _, o := range objects {
		if err := t.core.Client.RemoveObject(ctx, t.cfg.Bucket, o.Key, minio.RemoveObjectOptions{}); err != nil {
			return removed, t.wrap("remove "+o.Key, err)
		}
		removed = append(removed, o.Key)
	}
	return removed, nil
}

// Receive uploads snap as the next stream: a full one starting a chain
// when parent is empty, else an incremental one extending the complete
// chain whose newest snapshot is parent. The stream is encrypted on the
// way, checked as the server stored it (each part's MD5 against its ETag, the
// object's composite ETag and size), and only then is the
// manifest rewritten to include it: a stream is never a copy before that.
func (t *Target) Receive(ctx context.Context, snap target.Snapshot, parent string, progress target.Progress) (int64, error) {
	if _, err := t.Cleanup(ctx, snap.Subvolume); err != nil {
		return 0, err
	}
	chains, _, err := t.Chains(ctx, snap.Subvolume)
	if err != nil {
		return 0, err
	}
	m := target.Manifest{Version: target.ManifestVersion, Subvolume: snap.Subvolume, Chain: snap.Name, Encrypted: t.Encrypted()}
	if parent != "" {
		i := len(chains) - 1
		for i >= 0 && chains[i].Last() != parent {
			i--
		}
		if i < 0 || !chains[i].Complete() {
			return 0, fmt.Errorf("target %s: %s is not the newest snapshot of a complete chain: send a full stream", t.name, parent)
		}
		m = chains[i].Manifest
	} else {
		for _, c := range chains {
			if c.Name == snap.Name {
				return 0, fmt.Errorf("target %s: chain %s exists already", t.name, snap.Name)
			}
		}
	}
	seq := len(m.Streams)
	key := t.layout.StreamKey(snap.Subvolume, m.Chain, seq, snap.Name, t.Encrypted())
	size, sum, err := t.uploadCommand(ctx, sendCommand(snap, parent), key, target.PartSize(t.PartSize, expectedSize(snap.Path), t.MaxParts), progress)
	if err != nil {
		return 0, err
	}
	m.Streams = append(m.Streams, target.Stream{Seq: seq, Snapshot: snap.Name, Parent: parent, Key: key, Size: size, SHA256: sum})
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return 0, err
	}
	if err := t.put(ctx, t.layout.ManifestKey(snap.Subvolume, m.Chain), data); err != nil {
		return 0, err
	}
	return size, nil
}

// sendCommand is btrfs send of snap, incremental from parent (a snapshot
// beside it) when parent is not empty.
func sendCommand(snap target.Snapshot, parent string) *exec.Cmd {
	args := []string{"send", "-q"}
	if parent != "" {
		args = append(args, "-p", filepath.Join(filepath.Dir(snap.Path), parent))
	}
	return exec.Command("btrfs", append(args, snap.Path)...)
}

// expectedSize bounds a send stream of a snapshot by the space used on
// its filesystem, to size the parts; 0 when unknown.
func expectedSize(path string) int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize
}

// uploadCommand uploads the stdout of cmd, encrypted, to key. The upload
// completes only when cmd exited 0 and the encryption was finished; a
// failing cmd, or a failed upload, kills cmd and aborts the upload.
func (t *Target) uploadCommand(ctx context.Context, cmd *exec.Cmd, key string, partSize int64, progress func(int64)) (int64, string, error) {
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stream, err := cmd.StdoutPipe()
	if err != nil {
		return 0, "", err
	}
	widenPipe(stream)
	if err := cmd.Start(); err != nil {
		return 0, "", fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	return t.upload(ctx, key, partSize, progress, func(w io.Writer) error {
		enc, err := t.encrypting(w)
		if err == nil {
			err = copyStream(enc, stream)
		}
		if err != nil {
			_ = cmd.Process.Kill() // it may be blocked writing to the pipe
		}
		if werr := cmd.Wait(); werr != nil {
			err = errors.Join(err, fmt.Errorf("btrfs send: %w: %s", werr, strings.TrimSpace(stderr.String())))
		}
		if err != nil {
			return err
		}
		return enc.Close()
	})
}

// streamBuffer is how much of a stream is read at once: large reads mean
// fewer system calls and wake-ups per MiB on a busy machine.
const streamBuffer = 1 << 20

// copyStream copies r to w through one streamBuffer (not the 32 KiB io.Copy
// would pick, or a WriteTo of r's own).
func copyStream(w io.Writer, r io.Reader) error {
	_, err := io.CopyBuffer(w, struct{ io.Reader }{r}, make([]byte, streamBuffer))
	return err
}

// widenPipe grows a pipe's kernel buffer to streamBuffer (Linux's default
// maximum for an unprivileged pipe), so btrfs send writes and drsync reads
// in large steps instead of 64 KiB ones. A pipe that cannot grow is used
// as it is.
func widenPipe(pipe io.Reader) {
	sc, ok := pipe.(syscall.Conn)
	if !ok {
		return
	}
	if raw, err := sc.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) { _, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, streamBuffer) })
	}
}

// Delete removes a whole chain, named after its full snapshot: streams
// first, the manifest last, so an interrupted delete leaves a chain that
// reads as broken, never one that looks whole. Which chains may go is
// target.Prune's decision.
func (t *Target) Delete(ctx context.Context, subvolume, chain string) error {
	chains, _, err := t.Chains(ctx, subvolume)
	if err != nil {
		return err
	}
	for _, c := range chains {
		if c.Name != chain {
			continue
		}
		for _, s := range c.Manifest.Streams {
			if err := t.core.Client.RemoveObject(ctx, t.cfg.Bucket, s.Key, minio.RemoveObjectOptions{}); err != nil {
				return t.wrap("remove "+s.Key, err)
			}
		}
		key := t.layout.ManifestKey(subvolume, chain)
		if err := t.core.Client.RemoveObject(ctx, t.cfg.Bucket, key, minio.RemoveObjectOptions{}); err != nil {
			return t.wrap("remove "+key, err)
		}
		return nil
	}
	return fmt.Errorf("target %s: no chain %s of %s", t.name, chain, subvolume)
}

// Open downloads the streams of the chain up to name, checks each against
// its recorded SHA-256, decrypts it and receives it under scratch (on
// btrfs). A stream is judged (checksum, age's authentication) before btrfs
// receive sees its end, so a damaged stream never becomes a subvolume.
func (t *Target) Open(ctx context.Context, subvolume, name, scratch string) (string, func() error, error) {
	chains, _, err := t.Chains(ctx, subvolume)
	if err != nil {
		return "", nil, err
	}
	var streams []target.Stream
	for _, c := range chains {
		for i, s := range c.Manifest.Streams[:c.Restorable] {
			if s.Snapshot == name {
				streams = c.Manifest.Streams[:i+1]
			}
		}
	}
	if streams == nil {
		return "", nil, fmt.Errorf("target %s: no restorable copy of %s/%s", t.name, subvolume, name)
	}
	var received []string
	cleanup := func() error {
		var errs []error
		for i := len(received) - 1; i >= 0; i-- {
			if _, err := btrfs.Info(received[i]); err == nil {
				errs = append(errs, btrfs.Delete(context.Background(), received[i]))
			}
		}
		return errors.Join(errs...)
	}
	for _, s := range streams {
		dest := filepath.Join(scratch, s.Snapshot)
		if _, err := os.Lstat(dest); err == nil {
			return "", nil, errors.Join(fmt.Errorf("open %s: %s already exists", name, dest), cleanup())
		}
		received = append(received, dest)
		if err := t.receiveStream(ctx, s, scratch); err != nil {
			return "", nil, errors.Join(err, cleanup())
		}
	}
	// Keep only the snapshot asked for; the ones before it were parents.
	last := received[len(received)-1]
	parents := received[:len(received)-1]
	received = parents
	if err := cleanup(); err != nil {
		return "", nil, err
	}
	received = []string{last}
	return last, cleanup, nil
}

// receiveStream feeds one stored stream into btrfs receive in dir.
func (t *Target) receiveStream(ctx context.Context, s target.Stream, dir string) error {
	obj, err := t.core.Client.GetObject(ctx, t.cfg.Bucket, s.Key, minio.GetObjectOptions{})
	if err != nil {
		return t.wrap("get "+s.Key, err)
	}
	defer obj.Close()
	h := sha256.New()
	plain, err := t.decrypting(io.TeeReader(obj, h), t.IdentityFile())
	if err != nil {
		return err
	}
	recv := exec.CommandContext(ctx, "btrfs", "receive", dir)
	var stderr strings.Builder
	recv.Stderr = &stderr
	in, err := recv.StdinPipe()
	if err != nil {
		return err
	}
	if err := recv.Start(); err != nil {
		return fmt.Errorf("start btrfs receive: %w", err)
	}
	_, copyErr := io.Copy(in, plain)
	// Drain what decryption did not need, so the checksum covers the object.
	_, drainErr := io.Copy(h, obj)
	sum := hex.EncodeToString(h.Sum(nil))
	var judged error
	switch {
	case copyErr != nil:
		judged = fmt.Errorf("target %s: %s: %w", t.name, s.Key, copyErr)
	case drainErr != nil:
		judged = t.wrap("get "+s.Key, drainErr)
	case sum != s.SHA256:
		judged = fmt.Errorf("target %s: %s has SHA-256 %s, the manifest recorded %s", t.name, s.Key, sum, s.SHA256)
	}
	if judged != nil {
		_ = recv.Process.Kill()
		in.Close()
		_ = recv.Wait()
		return judged
	}
	in.Close()
	if err := recv.Wait(); err != nil {
		return fmt.Errorf("btrfs receive %s: %w: %s", s.Snapshot, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// IdentityFile is the age identity restores decrypt with.
func (t *Target) IdentityFile() string {
	if t.identityFile != "" {
		return t.identityFile
	}
	if t.cfg.Encryption != nil {
		return t.cfg.Encryption.IdentityFile
	}
	return ""
}

// UseIdentity makes restores decrypt with another identity file (a key
// kept off the machine, brought back after a disaster).
func (t *Target) UseIdentity(path string) { t.identityFile = path }

func readIdentities(path string) ([]age.Identity, error) {
	if path == "" {
		return nil, errors.New("no age identity file declared (encryption.identityFile) to decrypt with")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("age identity: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("age identity %s: %w", path, err)
	}
	return ids, nil
}
