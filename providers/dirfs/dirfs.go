// Package dirfs implements model.Storage on plain directories, for
// machines without btrfs (or without root to loop-mount one) and for fast
// tests. A snapshot is a full copy of the source tree; what btrfs keeps in
// the subvolume's metadata (UUID, received UUID, read-only flag) lives in a
// sidecar file next to it, so the snapshot tree itself stays an exact copy.
package dirfs

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/safefs"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// Storage implements model.Storage on plain directories.
type Storage struct{}

var _ model.Storage = Storage{}

// markerName is the file that makes a directory count as a mounted drive:
// a plain directory is always "mounted", so presence must be declared.
const markerName = ".drsync-drive"

// sidecarSuffix ends the names of sidecar files (and their temporaries),
// which List hides as btrfs hides subvolume metadata.
const sidecarSuffix = ".drsync.json"

// sidecar is the metadata btrfs would keep in a subvolume's root item.
type sidecar struct {
	UUID         string `json:"uuid"`
	ReceivedUUID string `json:"receivedUUID,omitempty"`
	ReadOnly     bool   `json:"readOnly"`
}

// sidecarPath is where the metadata of the subvolume at path lives: beside
// it, not inside, so the tree is byte-for-byte what was snapshotted.
func sidecarPath(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+sidecarSuffix)
}

func isSidecarName(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, sidecarSuffix)
}

func readSidecar(path string) (sidecar, error) {
	var m sidecar
	b, err := os.ReadFile(sidecarPath(path))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", sidecarPath(path), err)
	}
	return m, nil
}

// writeSidecar replaces the sidecar atomically: a torn sidecar would turn a
// snapshot into garbage the planner cannot classify.
func writeSidecar(path string, m sidecar) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	final := sidecarPath(path)
	tmp := final + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// newUUID returns a random (version 4) UUID in canonical form, as btrfs
// assigns to every new subvolume.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:]) // cannot fail since Go 1.24
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// List reports directories with a sidecar as subvolumes and everything else
// as foreign entries, hiding the sidecars themselves.
func (Storage) List(dir string) ([]model.Entry, error) {
	fd, err := safefs.OpenDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	f := os.NewFile(uintptr(fd), dir)
	des, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	slices.SortFunc(des, func(a, b os.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	var entries []model.Entry
	for _, de := range des {
		name := de.Name()
		if isSidecarName(name) {
			continue
		}
		e := model.Entry{Name: name}
		if de.IsDir() {
			m, err := readSidecar(filepath.Join(dir, name))
			switch {
			case err == nil:
				e.Subvolume, e.UUID, e.ReceivedUUID, e.ReadOnly = true, m.UUID, m.ReceivedUUID, m.ReadOnly
			case !errors.Is(err, os.ErrNotExist):
				return nil, fmt.Errorf("list %s: %w", dir, err)
			}
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// Confine refuses dir unless it is reached from root without a symlink and
// without crossing onto another filesystem (missing: nothing to protect).
func (Storage) Confine(root, dir string) error {
	fd, err := safefs.OpenDirBelow(root, dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// CheckSource accepts any existing directory: without btrfs there is no
// subvolume boundary to insist on.
func (Storage) CheckSource(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return &model.MissingSourceError{Path: path}
	case err != nil:
		return fmt.Errorf("source %s: %w", path, err)
	case !fi.IsDir():
		return fmt.Errorf("source %s is not a directory", path)
	}
	return nil
}

// Probe recognises a drive by its marker file, standing in for the
// filesystem UUID btrfs would report, so a bare directory never counts as a
// drive and a different "drive" is never written to. A plain directory can
// be no LUKS device: a declared one is not checked here (sandboxes only).
func (Storage) Probe(loc schema.Location) model.Drive {
	mount, uuid := loc.Mount, loc.UUID
	b, err := os.ReadFile(filepath.Join(mount, markerName))
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return model.Drive{Reason: fmt.Sprintf("no drive marker at %s (plain-directory sandbox)", mount)}
	}
	if err != nil {
		return model.Drive{Reason: err.Error()}
	}
	got := strings.TrimSpace(string(b))
	if uuid != "" && got != uuid {
		return model.Drive{UUID: got, Reason: fmt.Sprintf("drive at %s is %s, not the declared %s", mount, got, uuid)}
	}
	return model.Drive{Present: true, UUID: got, Reason: "drive marker " + got + " at " + mount}
}

// MarkDrive makes mount a drive with the given UUID for Probe.
func MarkDrive(mount, uuid string) error {
	if err := os.MkdirAll(mount, 0o755); err != nil {
		return fmt.Errorf("mark drive %s: %w", mount, err)
	}
	if err := os.WriteFile(filepath.Join(mount, markerName), []byte(uuid+"\n"), 0o644); err != nil {
		return fmt.Errorf("mark drive %s: %w", mount, err)
	}
	return nil
}

// Snapshot copies source to dest under a temporary name and renames it into
// place, so a crash never leaves a partial copy under a snapshot's name.
func (s Storage) Snapshot(ctx context.Context, source, dest string) error {
	fail := func(err error) error { return fmt.Errorf("snapshot %s to %s: %w", source, dest, err) }
	if err := s.CheckSource(source); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return fail(fmt.Errorf("snapshot directory: %w", err))
	}
	if err := refuseExisting(dest); err != nil {
		return fail(err)
	}
	partial := filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+".partial")
	if err := removeTree(partial); err != nil { // left by a crash
		return fail(err)
	}
	c := &copier{ctx: ctx}
	err := c.copyTree(source, partial)
	// The sidecar goes first: a crash before the rename leaves only an
	// orphan sidecar, which List never shows.
	if err == nil {
		err = writeSidecar(dest, sidecar{UUID: newUUID(), ReadOnly: true})
	}
	if err == nil {
		err = os.Rename(partial, dest)
	}
	if err != nil {
		return fail(errors.Join(err, removeTree(partial)))
	}
	return nil
}

// Send copies snapshot to destDir the way btrfs receive fills a subvolume:
// visible, writable and without a received UUID until complete, so an
// interrupted send looks half-received to the planner. With parent, files
// unchanged since the parent's replica are hardlinked from it (like rsync
// --link-dest) and only changed content is copied and counted.
func (Storage) Send(ctx context.Context, snapshot, parent, destDir string, progress func(int64)) (int64, error) {
	target := filepath.Join(destDir, filepath.Base(snapshot))
	fail := func(err error) (int64, error) {
		return 0, fmt.Errorf("send %s to %s: %w", snapshot, destDir, err)
	}
	src, err := readSidecar(snapshot)
	if err != nil {
		return fail(fmt.Errorf("%s is not a snapshot: %w", snapshot, err))
	}
	if !src.ReadOnly {
		return fail(fmt.Errorf("%s is not read-only", snapshot))
	}
	c := &copier{ctx: ctx, progress: progress}
	if parent != "" {
		if c.linkDest, err = parentReplica(parent, destDir); err != nil {
			return fail(err)
		}
	}
	if err := os.MkdirAll(destDir, 0o755); err != nil {
		return fail(fmt.Errorf("replica directory: %w", err))
	}
	// Refuse up front: the cleanup below must only delete what this call made.
	if err := refuseExisting(target); err != nil {
		return fail(err)
	}
	m := sidecar{UUID: newUUID()}
	err = writeSidecar(target, m)
	if err == nil {
		err = c.copyTree(snapshot, target)
	}
	if err == nil {
		// Like btrfs send, a copy of a received snapshot passes on the
		// UUID it was received from, so a replica sent back from the drive
		// is still the drive's parent for the next incremental send.
		m.ReceivedUUID, m.ReadOnly = cmp.Or(src.ReceivedUUID, src.UUID), true
		err = writeSidecar(target, m)
	}
	if err != nil {
		return fail(errors.Join(err, removeSubvolume(target)))
	}
	return c.n, nil
}

// parentReplica finds parent's replica in destDir by received UUID, as
// btrfs receive finds the parent of an incremental stream.
func parentReplica(parent, destDir string) (string, error) {
	p, err := readSidecar(parent)
	if err != nil {
		return "", fmt.Errorf("parent %s is not a snapshot: %w", parent, err)
	}
	replica := filepath.Join(destDir, filepath.Base(parent))
	r, err := readSidecar(replica)
	if err != nil || r.ReceivedUUID != cmp.Or(p.ReceivedUUID, p.UUID) || !r.ReadOnly {
		return "", fmt.Errorf("cannot find parent subvolume %s (uuid %s) in %s", filepath.Base(parent), p.UUID, destDir)
	}
	return replica, nil
}

// Delete removes a snapshot. The tree is first renamed away so it vanishes
// from List at once, as a btrfs subvolume delete does, instead of showing a
// half-deleted tree under a snapshot's name.
func (Storage) Delete(ctx context.Context, path string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", path, err)
	}
	if _, err := os.Lstat(path); err != nil {
		return fmt.Errorf("delete %s: %w", path, err)
	}
	if err := removeSubvolume(path); err != nil {
		return fmt.Errorf("delete %s: %w", path, err)
	}
	return nil
}

func refuseExisting(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s already exists", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// removeSubvolume removes the tree at path and its sidecar. The parent
// is opened once with no symlink on the way and every later step names
// entries through that descriptor (/proc/self/fd/N/name), so swapping the
// parent for a symlink cannot redirect the delete.
func removeSubvolume(path string) error {
	dir, err := safefs.OpenDir(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	path = safefs.ProcPath(dir, filepath.Base(path))
	doomed := safefs.ProcPath(dir, "."+filepath.Base(path)+".deleting")
	if err := removeTree(doomed); err != nil { // left by a crash
		return err
	}
	if err := os.Rename(path, doomed); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Remove(sidecarPath(path)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return removeTree(doomed)
}

// removeTree removes path (missing is fine), first making directories
// writable if needed: a snapshot keeps the source's modes, and a read-only
// directory's entries cannot be unlinked without root.
func removeTree(path string) error {
	if os.RemoveAll(path) == nil {
		return nil
	}
	_ = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(path)
}

// Size is what copying the snapshot at path again would write: the bytes
// its files occupy.
func (Storage) Size(path string) (int64, error) {
	var n int64
	err := filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", path, err)
	}
	return n, nil
}
