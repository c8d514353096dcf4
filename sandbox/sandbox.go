// Package sandbox builds throwaway btrfs filesystems on loop-mounted image
// files, so tests and the demo exercise real btrfs without touching real
// disks.
package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/providers/btrfs"
)

// Filesystem is one loop-mounted btrfs image.
type Filesystem struct {
	MountPoint string // absolute; may be the sandbox dir itself
	UUID       string // optional: mkfs.btrfs -U, so a declared external-drive UUID matches
	Label      string
	SizeMiB    int // default 256 when 0
}

// Layout is what Up builds.
type Layout struct {
	Filesystems []Filesystem // mounted in order of path depth (parents first)
	Subvolumes  []string     // absolute paths to create as subvolumes (parent dirs created as needed); a path equal to a filesystem's mount point means "the top-level subvolume itself" and is skipped
	Dirs        []string     // plain directories to create (e.g. snapshot directories)
	Fill        []string     // subvolume paths to fill with sample data
}

const (
	defaultSizeMiB = 256
	// Below 1 GiB mkfs.btrfs recommends mixed block groups: they lower the
	// minimum image size from 109 MiB to 16 MiB and avoid early ENOSPC from
	// separate data and metadata chunks on tiny filesystems.
	mixedBelowMiB = 1024
	imagesDir     = ".images"
	// markerFile in imagesDir says the directory is a sandbox Up made.
	markerFile    = "drsync-sandbox"
	detachTimeout = 10 * time.Second
)

// Available returns nil when loop-mounted btrfs can be used here, else why not.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("sandbox needs root to attach loop devices and mount")
	}
	fss, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if !hasFilesystem(string(fss), "btrfs") {
		return errors.New("sandbox: kernel has no btrfs (not in /proc/filesystems; try modprobe btrfs)")
	}
	for _, tool := range []string{"mkfs.btrfs", "btrfs", "losetup"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("sandbox: %s not found on PATH", tool)
		}
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		return fmt.Errorf("sandbox: no loop device support: %w", err)
	}
	return nil
}

func hasFilesystem(procFilesystems, name string) bool {
	for _, line := range strings.Split(procFilesystems, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[len(f)-1] == name {
			return true
		}
	}
	return false
}

// resolveDir makes dir absolute and symlink-free, because mountinfo lists
// resolved paths.
func resolveDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r, nil
	}
	return abs, nil
}

// within reports whether p is dir or below it.
func within(dir, p string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

func depth(p string) int { return strings.Count(filepath.Clean(p), "/") }

// mountsUnder lists mounts at or below dir, deepest first (and, at one mount
// point, topmost first), i.e. the order they can be unmounted in. With
// sources, only mounts of those devices are listed.
func mountsUnder(dir string, sources map[string]bool) ([]string, error) {
	all, err := btrfs.Mounts()
	if err != nil {
		return nil, err
	}
	var mps []string
	for i := len(all) - 1; i >= 0; i-- {
		if within(dir, all[i].MountPoint) && (sources == nil || sources[all[i].Source]) {
			mps = append(mps, all[i].MountPoint)
		}
	}
	sort.SliceStable(mps, func(i, j int) bool { return depth(mps[i]) > depth(mps[j]) })
	return mps, nil
}

// Up builds the layout under dir. It refuses to run over an existing
// sandbox, and on failure tears down what it built.
func Up(ctx context.Context, dir string, l Layout) (err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sandbox up: %w", err)
	}
	// Layout paths are checked against dir as given, mounts against its
	// resolved form.
	if dir, err = filepath.Abs(dir); err != nil {
		return fmt.Errorf("sandbox up: %w", err)
	}
	real, err := resolveDir(dir)
	if err != nil {
		return fmt.Errorf("sandbox up: %w", err)
	}
	mounted, err := mountsUnder(real, nil)
	if err != nil {
		return fmt.Errorf("sandbox up: %w", err)
	}
	if len(mounted) > 0 {
		return fmt.Errorf("sandbox up: %s is already mounted; run down first", mounted[len(mounted)-1])
	}
	// Nothing is mounted, so whatever Down finds are leftovers of a crash.
	if err := Down(ctx, dir); err != nil {
		return fmt.Errorf("sandbox up: clear leftovers: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, Down(context.WithoutCancel(ctx), dir))
		}
	}()

	fss := append([]Filesystem(nil), l.Filesystems...)
	sort.SliceStable(fss, func(i, j int) bool { return depth(fss[i].MountPoint) < depth(fss[j].MountPoint) })
	isMountPoint := map[string]bool{}
	for _, fs := range fss {
		if !filepath.IsAbs(fs.MountPoint) || !within(dir, filepath.Clean(fs.MountPoint)) {
			return fmt.Errorf("sandbox up: mount point %q is not an absolute path inside %s", fs.MountPoint, dir)
		}
		if isMountPoint[filepath.Clean(fs.MountPoint)] {
			return fmt.Errorf("sandbox up: mount point %s declared twice", fs.MountPoint)
		}
		isMountPoint[filepath.Clean(fs.MountPoint)] = true
	}

	// All images are made and attached before anything is mounted: a
	// filesystem mounted at dir hides dir/.images, the loop devices do not
	// care.
	images := filepath.Join(dir, imagesDir)
	if err := os.MkdirAll(images, 0o700); err != nil {
		return fmt.Errorf("sandbox up: %w", err)
	}
	if err := os.WriteFile(filepath.Join(images, markerFile), []byte("made by drsync sandbox up\n"), 0o600); err != nil {
		return fmt.Errorf("sandbox up: %w", err)
	}
	devs := make([]string, len(fss))
	for i, fs := range fss {
		img := filepath.Join(images, imageName(i, dir, fs.MountPoint))
		if err := makeImage(ctx, img, fs); err != nil {
			return fmt.Errorf("sandbox up: %w", err)
		}
		out, err := output(ctx, "losetup", "--find", "--show", img)
		if err != nil {
			return fmt.Errorf("sandbox up: %w", err)
		}
		devs[i] = strings.TrimSpace(out)
	}
	for i, fs := range fss {
		mp := filepath.Clean(fs.MountPoint)
		if err := os.MkdirAll(mp, 0o755); err != nil {
			return fmt.Errorf("sandbox up: %w", err)
		}
		if err := unix.Mount(devs[i], mp, "btrfs", 0, ""); err != nil {
			return fmt.Errorf("sandbox up: mount %s on %s: %w", devs[i], mp, err)
		}
	}

	// Parents first, or MkdirAll would make a parent a plain directory.
	subvols := append([]string(nil), l.Subvolumes...)
	sort.SliceStable(subvols, func(i, j int) bool { return depth(subvols[i]) < depth(subvols[j]) })
	for _, sv := range subvols {
		sv = filepath.Clean(sv)
		if isMountPoint[sv] {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(sv), 0o755); err != nil {
			return fmt.Errorf("sandbox up: %w", err)
		}
		if err := btrfs.Create(ctx, sv); err != nil {
			return fmt.Errorf("sandbox up: %w", err)
		}
	}
	for _, d := range l.Dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("sandbox up: %w", err)
		}
	}
	for _, p := range l.Fill {
		if _, err := FillSampleData(p, seedFor(dir, p)); err != nil {
			return fmt.Errorf("sandbox up: %w", err)
		}
	}
	return nil
}

// imageName makes the image's role readable in `losetup -a`.
func imageName(i int, dir, mountPoint string) string {
	rel, err := filepath.Rel(dir, mountPoint)
	if err != nil || rel == "." {
		rel = "root"
	}
	slug := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, rel)
	return fmt.Sprintf("%02d-%s.img", i, slug)
}

// seedFor keeps sample data stable for a given sandbox-relative path.
func seedFor(dir, p string) int64 {
	rel, _ := filepath.Rel(dir, p)
	h := fnv.New64a()
	h.Write([]byte(rel))
	return int64(h.Sum64())
}

func makeImage(ctx context.Context, img string, fs Filesystem) error {
	size := fs.SizeMiB
	if size == 0 {
		size = defaultSizeMiB
	}
	f, err := os.OpenFile(img, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(int64(size) << 20) // sparse: costs no disk until written
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	args := []string{"-q", "-f"}
	if size < mixedBelowMiB {
		args = append(args, "--mixed")
	}
	if fs.UUID != "" {
		args = append(args, "-U", fs.UUID)
	}
	if fs.Label != "" {
		args = append(args, "-L", fs.Label)
	}
	_, err = output(ctx, "mkfs.btrfs", append(args, img)...)
	return err
}

func output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// Down unmounts what Up mounted under dir, deepest first, detaches the loop
// devices backing dir/.images and removes it. It reads all state from
// mountinfo and losetup, so it also cleans up after a crashed Up or test, and
// is a no-op on a dir that was never set up. A mount is ours only when its
// device is a loop device backed by an image in dir/.images: anything else
// mounted below dir (someone's disk, a tmpfs) is left alone, so `down` on a
// directory that is not a sandbox changes nothing.
func Down(ctx context.Context, dir string) error {
	dir, err := resolveDir(dir)
	if err != nil {
		return fmt.Errorf("sandbox down: %w", err)
	}
	images := filepath.Join(dir, imagesDir)
	ours, err := loopDevicesBacking(ctx, images)
	if err != nil {
		return fmt.Errorf("sandbox down: %w", err)
	}
	if err := stopServices(dir); err != nil {
		return fmt.Errorf("sandbox down: %w", err)
	}
	mps, err := mountsUnder(dir, ours)
	if err != nil {
		return fmt.Errorf("sandbox down: %w", err)
	}
	for _, mp := range mps {
		if err := unix.Unmount(mp, 0); err != nil {
			return fmt.Errorf("sandbox down: unmount %s: %w", mp, err)
		}
	}
	// The marker is visible only now: a filesystem mounted at dir hid it.
	if _, err := os.Lstat(filepath.Join(images, markerFile)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // not a sandbox (or never set up): nothing of ours to detach or remove
		}
		return fmt.Errorf("sandbox down: %w", err)
	}
	entries, err := os.ReadDir(images)
	if err != nil {
		return fmt.Errorf("sandbox down: %w", err)
	}
	for _, e := range entries {
		if e.Name() == markerFile || !e.Type().IsRegular() {
			continue
		}
		if err := detach(ctx, filepath.Join(images, e.Name())); err != nil {
			return fmt.Errorf("sandbox down: %w", err)
		}
	}
	if err := os.RemoveAll(images); err != nil {
		return fmt.Errorf("sandbox down: %w", err)
	}
	return nil
}

// loopDevicesBacking returns the loop devices (as /dev/loopN) whose backing
// file is directly in images.
func loopDevicesBacking(ctx context.Context, images string) (map[string]bool, error) {
	out, err := output(ctx, "losetup", "--list", "--noheadings", "--raw", "--output", "NAME,BACK-FILE")
	if err != nil {
		return nil, err
	}
	devs := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		name, back, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		back = strings.TrimSuffix(unescapeLosetup(back), " (deleted)")
		if filepath.Dir(back) == images {
			devs[name] = true
		}
	}
	return devs, nil
}

// unescapeLosetup undoes --raw's \xHH escaping of spaces and other bytes.
func unescapeLosetup(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// detach detaches every loop device backed by img and waits until they are
// gone. The wait matters: while anything else holds a device open (btrfs-progs
// commands scan every block device), the kernel only marks it for
// autoclear and `losetup -d` returns before the image is released.
func detach(ctx context.Context, img string) error {
	devs, err := loopDevices(ctx, img)
	if err != nil {
		return err
	}
	for _, dev := range devs {
		if _, err := output(ctx, "losetup", "--detach", dev); err != nil {
			return err
		}
	}
	// Poll without detaching again: a device cleared meanwhile may already
	// be someone else's.
	for deadline := time.Now().Add(detachTimeout); len(devs) > 0; {
		if time.Now().After(deadline) {
			return fmt.Errorf("loop devices %v still hold %s", devs, img)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if devs, err = loopDevices(ctx, img); err != nil {
			return err
		}
	}
	return nil
}

// loopDevices returns the loop devices backed by img (`losetup -j`).
func loopDevices(ctx context.Context, img string) ([]string, error) {
	out, err := output(ctx, "losetup", "--list", "--noheadings", "--output", "NAME", "--associated", img)
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}
