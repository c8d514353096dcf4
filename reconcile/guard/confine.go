package guard

import (
	"fmt"
	"path/filepath"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// Confiner is implemented by storage that can prove a directory belongs to
// its location before drsync lists, writes or deletes in it: reached
// without any symlink and on the location's own filesystem. Snapshot
// directories often sit in user-owned directories (~/.snapshots), where a
// symlink or a mount would otherwise point retention at another location.
type Confiner interface {
	// Confine returns an error unless dir is root or lies below it, is
	// reached with no symlink in any component, and is on root's
	// filesystem. A dir that does not exist yet passes.
	Confine(root, dir string) error
}

// locationRoot is the directory a location's snapshot directories must
// stay within: the drive's mount point for an external location (the
// filesystem its UUID identifies), the location's path otherwise.
func locationRoot(d *schema.Desired, location string) string {
	l := d.Locations[location]
	if l.External && l.Mount != "" {
		return l.Mount
	}
	return l.Path
}

func confine(st model.Storage, root, dir string) error {
	c, ok := st.(Confiner)
	if !ok {
		return nil
	}
	return c.Confine(root, dir)
}

// ObservedDir checks a snapshot directory before it is listed; a refused
// one is recorded (the plan reports it and touches nothing of the
// subvolume) instead of failing the whole observation.
func ObservedDir(d *schema.Desired, st model.Storage, location, dir string, ss *model.SubvolumeState) bool {
	if err := confine(st, locationRoot(d, location), dir); err != nil {
		ss.Refused = append(ss.Refused, fmt.Sprintf("snapshot directory %s in location %s: %v", dir, location, err))
		return false
	}
	return true
}

// Action checks, right before an action writes or deletes, that the
// directory it acts in is still its location's: the plan's observation may
// be hours old. Without a desired state (d nil) there is nothing to check
// against.
func Action(d *schema.Desired, st model.Storage, a model.Action) error {
	if d == nil {
		return nil
	}
	var root, dir string
	switch {
	case a.Take != nil, a.Send != nil && !a.Send.Archive, a.Remove != nil && !a.Remove.Archive:
		if _, ok := d.Locations[a.Location]; !ok {
			return nil
		}
		root, dir = locationRoot(d, a.Location), filepath.Dir(a.Path)
	case a.Kind == model.KindDrill && a.Proof != nil:
		root, dir = a.Proof.Scratch, a.Proof.Scratch
	default:
		return nil
	}
	if err := confine(st, root, dir); err != nil {
		return fmt.Errorf("refusing to %s in %s: %w", a.Kind, dir, err)
	}
	return nil
}

// DrivePresent probes the external drive again right before an action on
// it: a drive unplugged (or swapped) after the plan was made must not turn
// a send into a write onto the bare mount point or another disk.
func DrivePresent(st model.Storage, a model.Action) error {
	if !a.External || a.Drive == nil {
		return nil
	}
	if d := st.Probe(a.Drive.Location()); !d.Present {
		return fmt.Errorf("drive %s is no longer present: %s", a.Location, d.Reason)
	}
	return nil
}
