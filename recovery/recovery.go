// Package recovery is runbook DR-003 (accidental deletion) as code: find
// the snapshots that hold a path, and restore it non-destructively with
// its metadata, verified before success is reported.
package recovery

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/verify"
)

// Copy is one snapshot's version of a path.
type Copy struct {
	Snapshot string    `json:"snapshot"`
	Location string    `json:"location"`
	Path     string    `json:"path"`
	Time     time.Time `json:"time"`
	Type     string    `json:"type"`
	Size     int64     `json:"size"`
	Mtime    time.Time `json:"mtime"`
	SHA256   string    `json:"sha256,omitempty"`
	// Change says how this copy differs from the previous snapshot's in
	// the same location: "new", "changed", "unchanged".
	Change string `json:"change"`
}

// Snapshot is a snapshot to look into.
type Snapshot struct {
	Name, Location, Path string
	Time                 time.Time
}

// Find looks up rel in every snapshot (oldest first per location) and
// reports the copies that hold it.
func Find(snaps []Snapshot, rel string) ([]Copy, error) {
	sort.SliceStable(snaps, func(i, j int) bool {
		if snaps[i].Location != snaps[j].Location {
			return snaps[i].Location < snaps[j].Location
		}
		return snaps[i].Time.Before(snaps[j].Time)
	})
	var out []Copy
	prev := map[string]*verify.FileInfo{}
	for _, s := range snaps {
		fi, err := verify.Stat(s.Path, rel)
		if errors.Is(err, fs.ErrNotExist) {
			prev[s.Location] = nil
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s in %s: %w", rel, s.Name, err)
		}
		c := Copy{Snapshot: s.Name, Location: s.Location, Path: filepath.Join(s.Path, rel), Time: s.Time,
			Type: fi.Type, Size: fi.Size, Mtime: time.Unix(0, fi.MtimeNs), SHA256: fi.SHA256, Change: "new"}
		if p := prev[s.Location]; p != nil {
			c.Change = "changed"
			if p.Type == fi.Type && p.SHA256 == fi.SHA256 && p.Size == fi.Size && p.Link == fi.Link {
				c.Change = "unchanged"
			}
		}
		prev[s.Location] = &fi
		out = append(out, c)
	}
	return out, nil
}

// ErrExists refuses to overwrite without force.
var ErrExists = errors.New("already exists")

// Restore copies root/rel (a file, symlink or directory tree) to dest with
// its metadata, verifies the copy against the snapshot, and only then
// reports success. It writes into a temporary sibling of dest and renames
// it into place, so a failed restore leaves nothing half-made at dest; an
// existing dest is replaced only with force.
func Restore(ctx context.Context, root, rel, dest string, force bool) (verify.TreeReport, error) {
	src, err := verify.Stat(root, rel)
	if err != nil {
		return verify.TreeReport{}, fmt.Errorf("%s in the snapshot: %w", rel, err)
	}
	if _, err := os.Lstat(dest); err == nil && !force {
		return verify.TreeReport{}, fmt.Errorf("%s %w; choose another --to or pass --force to replace it", dest, ErrExists)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return verify.TreeReport{}, fmt.Errorf("restore: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dest), ".drsync-restore-")
	if err != nil {
		return verify.TreeReport{}, fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(tmp)
	if src.Type == "dir" {
		err = restoreTree(ctx, root, rel, tmp)
	} else {
		err = verify.Restore(root, rel, tmp)
	}
	if err != nil {
		return verify.TreeReport{}, err
	}
	staged := filepath.Join(tmp, filepath.FromSlash(rel))
	rep, err := verifyCopy(ctx, root, rel, staged, src)
	if err != nil {
		return rep, err
	}
	if len(rep.Mismatches) > 0 {
		return rep, fmt.Errorf("the restored copy differs from the snapshot (%d problem(s), first %s: %s); nothing was put at %s",
			len(rep.Mismatches), rep.Mismatches[0].Rel, rep.Mismatches[0].Check, dest)
	}
	return rep, place(staged, dest, force)
}

// place moves the verified copy to dest atomically. Without force it
// refuses whatever appeared at dest meanwhile (RENAME_NOREPLACE); with
// force it swaps the two (RENAME_EXCHANGE) and only then removes the old
// one, so the original is never gone before the copy is in place.
func place(staged, dest string, force bool) error {
	err := unix.Renameat2(unix.AT_FDCWD, staged, unix.AT_FDCWD, dest, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) {
		return placeWithoutFlags(staged, dest, force) // NFS, CIFS, many FUSE filesystems
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST) && !force:
		return fmt.Errorf("%s %w; choose another --to or pass --force to replace it", dest, ErrExists)
	case errors.Is(err, unix.EEXIST):
		if err := unix.Renameat2(unix.AT_FDCWD, staged, unix.AT_FDCWD, dest, unix.RENAME_EXCHANGE); err != nil {
			return fmt.Errorf("replacing %s: %w", dest, err)
		}
		// staged now holds the replaced original, removed with the temp dir.
		return nil
	default:
		return fmt.Errorf("restore: %w", err)
	}
}

func verifyCopy(ctx context.Context, root, rel, staged string, src verify.FileInfo) (verify.TreeReport, error) {
	if src.Type == "dir" {
		rep, err := verify.CompareTrees(ctx, filepath.Join(root, filepath.FromSlash(rel)), staged, nil)
		// A path restore gives every name its own copy: link counts differ
		// by design (a hard link's partner may lie outside what is restored).
		kept := rep.Mismatches[:0]
		for _, m := range rep.Mismatches {
			if m.Check != "nlink" {
				kept = append(kept, m)
			}
		}
		rep.Mismatches = kept
		return rep, err
	}
	got, err := verify.Stat(filepath.Dir(staged), filepath.Base(staged))
	if err != nil {
		return verify.TreeReport{}, fmt.Errorf("verifying the restored copy: %w", err)
	}
	got.Rel = src.Rel
	return verify.TreeReport{Entries: 1, Files: 1, Bytes: src.Size, Mismatches: verify.Compare(src, got)}, nil
}

// restoreTree restores every entry below root/rel into scratch; files and
// symlinks through verify.Restore, directories recreated with their
// metadata once their contents are in place (so their mtimes hold).
func restoreTree(ctx context.Context, root, rel, scratch string) error {
	base := filepath.Join(root, filepath.FromSlash(rel))
	var dirs []string
	err := filepath.WalkDir(base, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		r, _ := filepath.Rel(root, p)
		r = filepath.ToSlash(r)
		switch {
		case e.IsDir():
			dirs = append(dirs, r)
			return os.MkdirAll(filepath.Join(scratch, filepath.FromSlash(r)), 0o700)
		case e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0:
			return verify.Restore(root, r, scratch)
		default:
			return fmt.Errorf("%s: cannot restore a %s", r, e.Type())
		}
	})
	if err != nil {
		return fmt.Errorf("restore %s: %w", rel, err)
	}
	// Deepest first: setting a directory's mtime after its children.
	for i := len(dirs) - 1; i >= 0; i-- {
		fi, err := verify.Stat(root, dirs[i])
		if err != nil {
			return err
		}
		if err := applyDirMeta(filepath.Join(scratch, filepath.FromSlash(dirs[i])), fi); err != nil {
			return fmt.Errorf("restore %s: %w", dirs[i], err)
		}
	}
	return nil
}

func applyDirMeta(path string, fi verify.FileInfo) error {
	if err := os.Lchown(path, int(fi.UID), int(fi.GID)); err != nil {
		return err
	}
	if err := os.Chmod(path, fi.Mode); err != nil {
		return err
	}
	for name, val := range fi.Xattrs {
		if err := unix.Lsetxattr(path, name, []byte(val), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("xattr %s: %w", name, err)
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(fi.MtimeNs), unix.NsecToTimespec(fi.MtimeNs)}
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// Resolve turns a user's PATH into (subvolume, rel): an absolute path
// under a source belongs to the subvolume with the longest matching
// source; a relative path is relative to every subvolume.
func Resolve(sources map[string]string, path string) (map[string]string, error) {
	out := map[string]string{}
	if !filepath.IsAbs(path) {
		clean := filepath.ToSlash(filepath.Clean(path))
		if clean == "." || strings.HasPrefix(clean, "../") || clean == ".." {
			return nil, fmt.Errorf("%s: name a path inside a subvolume", path)
		}
		for name := range sources {
			out[name] = clean
		}
		return out, nil
	}
	best, bestLen := "", -1
	for name, src := range sources {
		if rel, err := filepath.Rel(src, path); err == nil && !strings.HasPrefix(rel, "..") && rel != "." && len(src) > bestLen {
			best, bestLen = name, len(src)
			out = map[string]string{name: filepath.ToSlash(rel)}
		}
	}
	if best == "" {
		return nil, fmt.Errorf("%s is not under the source of any declared subvolume", path)
	}
	return out, nil
}

// placeWithoutFlags is place for filesystems without renameat2's flags:
// check, then rename; with force the original is moved aside first and
// put back if the copy cannot take its place.
func placeWithoutFlags(staged, dest string, force bool) error {
	if _, err := os.Lstat(dest); err == nil {
		if !force {
			return fmt.Errorf("%s %w; choose another --to or pass --force to replace it", dest, ErrExists)
		}
		aside := staged + ".replaced"
		if err := os.Rename(dest, aside); err != nil {
			return fmt.Errorf("replacing %s: %w", dest, err)
		}
		if err := os.Rename(staged, dest); err != nil {
			os.Rename(aside, dest)
			return fmt.Errorf("replacing %s: %w", dest, err)
		}
		return nil // aside lies in the temp dir, removed with it
	}
	if err := os.Rename(staged, dest); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}
