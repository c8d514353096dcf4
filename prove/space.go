package prove

import (
	"errors"
	"fmt"
	"path"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/internal/safefs"
	"github.com/drsync/drsync/verify"
)

// headroom is left free beyond what a sample or a drill needs: a scratch
// or pool filled to the last block breaks whatever else writes there.
const headroom = 64 << 20

// Sizer is implemented by storage that can tell how many bytes a copy
// holds (what receiving it again takes), so a drill that cannot fit is
// skipped instead of filling the filesystem it receives into.
type Sizer interface {
	Size(path string) (int64, error)
}

// sampleWontFit says why the sampled files of root cannot be restored
// into the scratch at rootFd, or "" when they fit. Sizes are what the
// files occupy (holes stay holes when restored), plus a block per entry.
func sampleWontFit(rootFd int, scratch, root string, rels []string) string {
	dir, err := safefs.OpenDir(root)
	if err != nil {
		return "" // the test itself reports an unreadable copy
	}
	defer unix.Close(dir)
	var need uint64
	for _, rel := range rels {
		fd, err := safefs.OpenBeneath(dir, rel, unix.O_PATH, 0)
		if err != nil {
			continue // reported as missing by the test
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil {
			need += uint64(st.Blocks)*512 + 4096
		}
		unix.Close(fd)
	}
	return wontFit(rootFd, need, fmt.Sprintf("the sample of %d files", len(rels)), scratch)
}

// drillWontFit says why receiving copy into dir would not fit, or "".
func drillWontFit(st any, dirFd int, dir, copy string) (string, error) {
	s, ok := st.(Sizer)
	if !ok {
		return "", nil
	}
	size, err := s.Size(copy)
	if err != nil {
		return "", fmt.Errorf("size of %s: %w", copy, err)
	}
	return wontFit(dirFd, uint64(size), "the replica", dir), nil
}

func wontFit(fd int, need uint64, what, where string) string {
	free, err := safefs.FreeBytes(fd)
	if err != nil || need+headroom <= free {
		return ""
	}
	return fmt.Sprintf("skipped, nothing written: %s needs %s and %s has %s free (keeping %s headroom)",
		what, humane.Bytes(int64(need)), where, humane.Bytes(int64(free)), humane.Bytes(int64(headroom)))
}

// keepOnlyFailing removes the restored copies of the files that passed
// from a failed test's scratch, so what is kept for inspection is what
// failed, not the whole (possibly large) sample.
func keepOnlyFailing(runFd int, results []verify.FileResult) error {
	var errs []error
	for _, r := range results {
		if len(r.Mismatches) > 0 {
			continue
		}
		parent, err := safefs.OpenBeneath(runFd, path.Dir(r.Rel), unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := unix.Unlinkat(parent, path.Base(r.Rel), 0); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("remove %s: %w", r.Rel, err))
		}
		unix.Close(parent)
	}
	return errors.Join(errs...)
}
