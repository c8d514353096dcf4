package btrfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/schema"
)

// Storage implements reconcile.Storage on real btrfs filesystems.
type Storage struct{}

var _ reconcile.Storage = Storage{}

func (Storage) List(dir string) ([]reconcile.Entry, error) {
	subvols, others, err := List(dir)
	if err != nil {
		return nil, err
	}
	entries := make([]reconcile.Entry, 0, len(subvols)+len(others))
	for _, s := range subvols {
		entries = append(entries, reconcile.Entry{Name: s.Name, Subvolume: true, UUID: s.UUID,
			ReceivedUUID: s.ReceivedUUID, ReadOnly: s.ReadOnly})
	}
	for _, o := range others {
		entries = append(entries, reconcile.Entry{Name: o})
	}
	return entries, nil
}

func (Storage) CheckSource(path string) error {
	_, err := Info(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("source %s does not exist", path)
	case errors.Is(err, ErrNotSubvolume):
		return fmt.Errorf("source %s is not a btrfs subvolume", path)
	}
	return err
}

// Probe recognises the drive by what is mounted at its mount point: nothing,
// a filesystem other than the declared one, or (with luks declared) one that
// is not on the dm-crypt mapping of the declared LUKS device means absent, so
// drsync never writes into a bare mount point nor to a look-alike.
func (Storage) Probe(loc schema.Location) reconcile.Drive {
	mount, uuid := loc.Mount, loc.UUID
	m, ok, err := MountAt(mount)
	switch {
	case err != nil:
		return reconcile.Drive{Reason: err.Error()}
	case !ok:
		return reconcile.Drive{Reason: "nothing mounted at " + mount}
	case m.FSType != "btrfs":
		return reconcile.Drive{Reason: fmt.Sprintf("%s holds a %s filesystem, not btrfs", mount, m.FSType)}
	}
	got, err := FilesystemUUID(mount)
	if err != nil {
		return reconcile.Drive{Reason: err.Error()}
	}
	if uuid != "" && got != uuid {
		return reconcile.Drive{UUID: got, Reason: fmt.Sprintf("%s holds filesystem %s, not the declared %s", mount, got, uuid)}
	}
	if loc.LUKS != nil && loc.LUKS.Verify {
		if err := onLUKSMapping(sysfs, m.Source, loc.LUKS); err != nil {
			return reconcile.Drive{UUID: got, Reason: "not the declared encrypted device: " + err.Error()}
		}
		return reconcile.Drive{Present: true, UUID: got, Reason: fmt.Sprintf("uuid %s at %s on LUKS device %s", got, mount, loc.LUKS.Device)}
	}
	return reconcile.Drive{Present: true, UUID: got, Reason: "uuid " + got + " at " + mount}
}

func (Storage) Snapshot(ctx context.Context, source, dest string) error {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return fmt.Errorf("snapshot directory: %w", err)
	}
	// btrfs would put the snapshot inside an existing directory of that
	// name and succeed: refuse instead.
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("snapshot %s: already exists", dest)
	}
	return Snapshot(ctx, source, dest)
}

func (Storage) Send(ctx context.Context, snapshot, parent, destDir string, progress func(int64)) (int64, error) {
	if err := os.MkdirAll(destDir, 0o755); err != nil {
		return 0, fmt.Errorf("replica directory: %w", err)
	}
	res, err := Send(ctx, snapshot, parent, destDir, progress)
	return res.Bytes, err
}

func (Storage) Delete(ctx context.Context, path string) error { return Delete(ctx, path) }
