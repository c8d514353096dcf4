package btrfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/safefs"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// Storage implements model.Storage on real btrfs filesystems.
type Storage struct{}

var _ model.Storage = Storage{}

func (Storage) List(dir string) ([]model.Entry, error) {
	subvols, others, err := List(dir)
	if err != nil {
		return nil, err
	}
	entries := make([]model.Entry, 0, len(subvols)+len(others))
	for _, s := range subvols {
		entries = append(entries, model.Entry{Name: s.Name, Subvolume: true, UUID: s.UUID, ParentUUID: s.ParentUUID,
			ReceivedUUID: s.ReceivedUUID, ReadOnly: s.ReadOnly})
	}
	for _, o := range others {
		entries = append(entries, model.Entry{Name: o})
	}
	return entries, nil
}

func (Storage) CheckSource(path string) error {
	_, err := Info(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return &model.MissingSourceError{Path: path}
	case errors.Is(err, ErrNotSubvolume):
		return fmt.Errorf("source %s is not a btrfs subvolume", path)
	}
	return err
}

// Probe recognises the drive by what is mounted at its mount point: nothing,
// a filesystem other than the declared one, or (with luks declared) one that
// is not on the dm-crypt mapping of the declared LUKS device means absent, so
// drsync never writes into a bare mount point nor to a look-alike.
func (Storage) Probe(loc schema.Location) model.Drive {
	mount, uuid := loc.Mount, loc.UUID
	m, ok, err := MountAt(mount)
	switch {
	case err != nil:
		return model.Drive{Reason: err.Error()}
	case !ok:
		return model.Drive{Reason: "nothing mounted at " + mount}
	case m.FSType != "btrfs":
		return model.Drive{Reason: fmt.Sprintf("%s holds a %s filesystem, not btrfs", mount, m.FSType)}
	}
	got, err := FilesystemUUID(mount)
	if err != nil {
		return model.Drive{Reason: err.Error()}
	}
	if uuid != "" && got != uuid {
		return model.Drive{UUID: got, Reason: fmt.Sprintf("%s holds filesystem %s, not the declared %s", mount, got, uuid)}
	}
	if loc.LUKS != nil && loc.LUKS.Verify {
		if err := onLUKSMapping(sysfs, m.Source, loc.LUKS); err != nil {
			return model.Drive{UUID: got, Reason: "not the declared encrypted device: " + err.Error()}
		}
		return model.Drive{Present: true, UUID: got, Reason: fmt.Sprintf("uuid %s at %s on LUKS device %s", got, mount, loc.LUKS.Device)}
	}
	return model.Drive{Present: true, UUID: got, Reason: "uuid " + got + " at " + mount}
}

func (Storage) Snapshot(ctx context.Context, source, dest string) error {
	dir, err := safefs.MkdirAll(filepath.Dir(dest), 0o755)
	if err != nil {
		return fmt.Errorf("snapshot directory: %w", err)
	}
	unix.Close(dir)
	return Snapshot(ctx, source, dest)
}

// Confine refuses dir unless it is reached from root without a symlink and
// without crossing onto another filesystem. A dir that does not exist yet
// holds nothing to protect.
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

func (Storage) Send(ctx context.Context, snapshot, parent, destDir string, progress func(int64)) (int64, error) {
	dir, err := safefs.MkdirAll(destDir, 0o755)
	if err != nil {
		return 0, fmt.Errorf("replica directory: %w", err)
	}
	unix.Close(dir)
	res, err := Send(ctx, snapshot, parent, destDir, progress)
	return res.Bytes, err
}

func (Storage) Delete(ctx context.Context, path string) error { return Delete(ctx, path) }

// Size is what receiving the subvolume at path again would write: the
// bytes of its extents, shared ones included (`btrfs filesystem du`).
func (Storage) Size(path string) (int64, error) {
	out, err := exec.Command("btrfs", "filesystem", "du", "-s", "--raw", path).Output()
	if err != nil {
		return 0, fmt.Errorf("btrfs filesystem du %s: %w", path, err)
	}
	// "Total Exclusive Set-shared Filename" then one line for path.
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	fields := strings.Fields(lines[len(lines)-1])
	if len(lines) < 2 || len(fields) < 4 {
		return 0, fmt.Errorf("btrfs filesystem du %s: unexpected output %q", path, out)
	}
	n, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("btrfs filesystem du %s: %w", path, err)
	}
	return n, nil
}
