package sandbox

import (
	"crypto/rand"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/drsync/drsync/schema"
)

// Image sizes: sparse files, so generous sizes cost nothing up front.
const (
	localSizeMiB    = 6144 // holds a 2 GiB subvolume, a snapshot's received copy and a drill's
	externalSizeMiB = 4096
)

// LayoutFor derives the throwaway machine a desired state needs: one btrfs
// per external drive (with its declared UUID, so drsync recognises it), and
// one per local location holding that location and the sources that
// snapshot into it, mounted at their deepest common directory. Every path
// must lie under dir: load the state with root=dir.
func LayoutFor(d *schema.Desired, dir string) (Layout, error) {
	var l Layout
	mounts := map[string]bool{}
	addFS := func(fs Filesystem) {
		if !mounts[fs.MountPoint] {
			mounts[fs.MountPoint] = true
			l.Filesystems = append(l.Filesystems, fs)
		}
	}
	users := map[string][]string{} // local location → sources snapshotting into it
	for _, name := range d.SubvolumeNames() {
		s := d.Subvolumes[name]
		users[s.Snapshots.Location] = append(users[s.Snapshots.Location], s.Source)
		l.Subvolumes = append(l.Subvolumes, s.Source)
		l.Fill = append(l.Fill, s.Source)
	}
	for _, name := range slices.Sorted(maps.Keys(d.Locations)) {
		loc := d.Locations[name]
		l.Dirs = append(l.Dirs, loc.Path)
		if loc.External {
			addFS(Filesystem{MountPoint: loc.Mount, UUID: loc.UUID, Label: loc.Label, SizeMiB: externalSizeMiB})
			continue
		}
		if len(users[name]) == 0 {
			continue
		}
		addFS(Filesystem{MountPoint: commonDir(append([]string{loc.Path}, users[name]...)), Label: name, SizeMiB: localSizeMiB})
	}
	for _, fs := range l.Filesystems {
		if !within(dir, fs.MountPoint) {
			return Layout{}, fmt.Errorf("%s lies outside the sandbox %s: build the desired state's paths on root (root: *\"\" | string @tag(root))", fs.MountPoint, dir)
		}
	}
	// A source must live on the filesystem of its snapshot location, or
	// snapshots could not be taken.
	for _, name := range d.SubvolumeNames() {
		s := d.Subvolumes[name]
		got, want := deepestMount(l.Filesystems, s.Source), deepestMount(l.Filesystems, d.Locations[s.Snapshots.Location].Path)
		if got != want {
			return Layout{}, fmt.Errorf("subvolume %s: source %s would be on the filesystem at %s, its snapshots on the one at %s", name, s.Source, got, want)
		}
	}
	sort.SliceStable(l.Filesystems, func(i, j int) bool {
		return pathDepth(l.Filesystems[i].MountPoint) < pathDepth(l.Filesystems[j].MountPoint)
	})
	sort.SliceStable(l.Subvolumes, func(i, j int) bool { return pathDepth(l.Subvolumes[i]) < pathDepth(l.Subvolumes[j]) })
	return l, nil
}

func commonDir(paths []string) string {
	common := filepath.Clean(paths[0])
	for _, p := range paths[1:] {
		for !within(common, filepath.Clean(p)) {
			common = filepath.Dir(common)
		}
	}
	return common
}

func deepestMount(fss []Filesystem, path string) string {
	best := ""
	for _, fs := range fss {
		if within(fs.MountPoint, path) && len(fs.MountPoint) > len(best) {
			best = fs.MountPoint
		}
	}
	return best
}

func pathDepth(p string) int { return strings.Count(filepath.Clean(p), "/") }

// NewUUID returns a random (version 4) UUID, for a sandbox drive that must
// not collide with an attached filesystem, the real drive included.
func NewUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
