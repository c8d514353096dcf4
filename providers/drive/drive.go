// Package drive is the external drive as a target.Target, beside the ssh
// host and the S3 bucket: replicas are received subvolumes in the drive's
// snapshot directories, read in place by restore tests.
package drive

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
	"github.com/drsync/drsync/target"
)

// Drive is one declared external location.
type Drive struct {
	name     string
	location schema.Location
	dir      func(subvolume string) string
	// Loc reads the times in snapshot names.
	Loc *time.Location
}

var _ target.Target = (*Drive)(nil)

// New returns the external location named name of d as a target.
func New(d *schema.Desired, name string) (*Drive, error) {
	l, ok := d.Locations[name]
	if !ok || !l.External {
		return nil, fmt.Errorf("drive %s: not an external location", name)
	}
	return &Drive{name: name, location: l, Loc: time.Local,
		dir: func(subvolume string) string { return d.SnapshotDir(name, subvolume) }}, nil
}

func (d *Drive) Name() string { return d.name }

// Probe recognises the drive by its filesystem UUID at its mount point;
// absent is unreachable (deferred), never a write into a bare mount point.
func (d *Drive) Probe(context.Context) error {
	if p := (btrfs.Storage{}).Probe(d.location); !p.Present {
		return fmt.Errorf("drive %s: %w: %s", d.name, target.ErrUnreachable, p.Reason)
	}
	return nil
}

// List reads the replicas of subvolume: complete when received and
// read-only, incomplete (half-received) otherwise; entries not named like
// its snapshots are foreign.
func (d *Drive) List(_ context.Context, subvolume string) ([]target.Copy, error) {
	subvols, others, err := btrfs.List(d.dir(subvolume))
	if err != nil {
		return nil, fmt.Errorf("drive %s: %w", d.name, err)
	}
	stamps := map[string]snapname.Stamp{}
	var copies []target.Copy
	for _, s := range subvols {
		st, ours := snapname.Parse(subvolume, s.Name, d.Loc)
		stamps[s.Name] = st
		copies = append(copies, target.Copy{Name: s.Name, Foreign: !ours, ReceivedUUID: s.ReceivedUUID,
			Complete: ours && s.ReceivedUUID != "" && s.ReadOnly})
	}
	for _, o := range others {
		if _, ours := snapname.Parse(subvolume, o, d.Loc); ours {
			copies = append(copies, target.Copy{Name: o, Foreign: true})
		}
	}
	slices.SortStableFunc(copies, func(a, b target.Copy) int {
		switch {
		case snapname.Less(stamps[a.Name], stamps[b.Name]):
			return -1
		case snapname.Less(stamps[b.Name], stamps[a.Name]):
			return 1
		}
		return 0
	})
	return copies, nil
}

// Receive sends snap to the drive, re-probing it first so a drive pulled
// since the plan gets no write.
func (d *Drive) Receive(ctx context.Context, snap target.Snapshot, parent string, progress target.Progress) (int64, error) {
	if err := d.Probe(ctx); err != nil {
		return 0, err
	}
	parentPath := ""
	if parent != "" {
		parentPath = filepath.Join(filepath.Dir(snap.Path), parent)
	}
	return (btrfs.Storage{}).Send(ctx, snap.Path, parentPath, d.dir(snap.Subvolume), progress)
}

// Delete removes one replica of drsync's (complete or half-received);
// foreign entries are refused.
func (d *Drive) Delete(ctx context.Context, subvolume, name string) error {
	if err := d.Probe(ctx); err != nil {
		return err
	}
	copies, err := d.List(ctx, subvolume)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(copies, func(c target.Copy) bool { return c.Name == name })
	switch {
	case i < 0:
		return fmt.Errorf("drive %s: no replica %s", d.name, name)
	case copies[i].Foreign:
		return fmt.Errorf("drive %s: %s is not drsync's: left alone", d.name, name)
	}
	return btrfs.Delete(ctx, filepath.Join(d.dir(subvolume), name))
}

// Open returns the replica itself: it is already a read-only tree on this
// machine.
func (d *Drive) Open(ctx context.Context, subvolume, name, _ string) (string, func() error, error) {
	copies, err := d.List(ctx, subvolume)
	if err != nil {
		return "", nil, err
	}
	if i := slices.IndexFunc(copies, func(c target.Copy) bool { return c.Name == name }); i < 0 || !copies[i].Restorable() {
		return "", nil, fmt.Errorf("drive %s: no complete replica %s", d.name, name)
	}
	p := filepath.Join(d.dir(subvolume), name)
	if _, err := os.Lstat(p); err != nil {
		return "", nil, err
	}
	return p, func() error { return nil }, nil
}
