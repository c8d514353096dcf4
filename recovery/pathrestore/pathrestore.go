// Package pathrestore is runbook DR-003 (accidental deletion) as code:
// find the snapshots that hold a path, and restore it non-destructively
// with its metadata, verified before success is reported.
package pathrestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/safefs"
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
//
// dest's directory is often a user's: it is opened once, with no symlink in
// any component, and everything after goes through descriptors. The
// temporary directory is made 0700 through that descriptor and held open,
// so renaming or exchanging names in the user's directory (renameat2
// RENAME_EXCHANGE) cannot redirect a write, an ownership or a mode change.
func Restore(ctx context.Context, root, rel, dest string, force bool) (verify.TreeReport, error) {
	src, err := verify.Stat(root, rel)
	if err != nil {
		return verify.TreeReport{}, fmt.Errorf("%s in the snapshot: %w", rel, err)
	}
	parent, err := safefs.MkdirAll(filepath.Dir(dest), 0o755)
	if err != nil {
		return verify.TreeReport{}, fmt.Errorf("restore: %w", err)
	}
	defer unix.Close(parent)
	name := filepath.Base(dest)
	var st unix.Stat_t
	if err := unix.Fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && !force {
		return verify.TreeReport{}, fmt.Errorf("%s %w; choose another --to or pass --force to replace it", dest, ErrExists)
	}
	tmp, err := safefs.NewTempDir(parent, filepath.Dir(dest))
	if err != nil {
		return verify.TreeReport{}, err
	}
	defer tmp.Remove(parent)
	scratch := safefs.ProcPath(tmp.FD, "")
	if src.Type == "dir" {
		err = restoreTree(ctx, root, rel, tmp.FD)
	} else {
		err = verify.Restore(root, rel, scratch)
	}
	if err != nil {
		return verify.TreeReport{}, err
	}
	rep, err := verifyCopy(ctx, root, rel, scratch, src)
	if err != nil {
		return rep, err
	}
	if len(rep.Mismatches) > 0 {
		return rep, fmt.Errorf("the restored copy differs from the snapshot (%d problem(s), first %s: %s); nothing was put at %s",
			len(rep.Mismatches), rep.Mismatches[0].Rel, rep.Mismatches[0].Check, dest)
	}
	return rep, place(tmp.FD, rel, parent, name, dest, force)
}

// place moves the verified copy (rel below tmp) to name in parent
// atomically. Without force it refuses whatever appeared there meanwhile
// (RENAME_NOREPLACE); with force it swaps the two (RENAME_EXCHANGE) and
// only then removes the old one, so the original is never gone before the
// copy is in place.
func place(tmp int, rel string, parent int, name, dest string, force bool) error {
	err := unix.Renameat2(tmp, rel, parent, name, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) {
		return placeWithoutFlags(tmp, rel, parent, name, dest, force) // NFS, CIFS, many FUSE filesystems
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST) && !force:
		return fmt.Errorf("%s %w; choose another --to or pass --force to replace it", dest, ErrExists)
	case errors.Is(err, unix.EEXIST):
		if err := unix.Renameat2(tmp, rel, parent, name, unix.RENAME_EXCHANGE); err != nil {
			return fmt.Errorf("replacing %s: %w", dest, err)
		}
		// rel in tmp now holds the replaced original, removed with tmp.
		return nil
	default:
		return fmt.Errorf("restore: %w", err)
	}
}

func verifyCopy(ctx context.Context, root, rel, scratch string, src verify.FileInfo) (verify.TreeReport, error) {
	staged := scratch + "/" + rel
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
	got, err := verify.Stat(scratch, rel)
	if err != nil {
		return verify.TreeReport{}, fmt.Errorf("verifying the restored copy: %w", err)
	}
	got.Rel = src.Rel
	return verify.TreeReport{Entries: 1, Files: 1, Bytes: src.Size, Mismatches: verify.Compare(src, got)}, nil
}

// restoreTree restores every entry below root/rel into the directory tmp;
// files and symlinks through verify.Restore, directories created through
// tmp's descriptor and given their metadata on their own descriptors once
// their contents are in place (so their mtimes hold).
func restoreTree(ctx context.Context, root, rel string, tmp int) error {
	base := filepath.Join(root, filepath.FromSlash(rel))
	scratch := safefs.ProcPath(tmp, "")
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
			fd, err := safefs.MkdirAllBelow(tmp, r, 0o700)
			if err != nil {
				return err
			}
			return unix.Close(fd)
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
		if err := applyDirMeta(tmp, dirs[i], fi); err != nil {
			return fmt.Errorf("restore %s: %w", dirs[i], err)
		}
	}
	return nil
}

// applyDirMeta sets a restored directory's owner, mode, xattrs and mtime
// on its own descriptor, opened below tmp without following anything.
func applyDirMeta(tmp int, rel string, fi verify.FileInfo) error {
	fd, err := safefs.OpenBeneath(tmp, rel, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return verify.SetAttrs(fd, fi)
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
// check, then rename; with force the original is moved aside into tmp first
// and put back if the copy cannot take its place.
func placeWithoutFlags(tmp int, rel string, parent int, name, dest string, force bool) error {
	var st unix.Stat_t
	if err := unix.Fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		if !force {
			return fmt.Errorf("%s %w; choose another --to or pass --force to replace it", dest, ErrExists)
		}
		const aside = ".replaced"
		if err := unix.Renameat(parent, name, tmp, aside); err != nil {
			return fmt.Errorf("replacing %s: %w", dest, err)
		}
		if err := unix.Renameat(tmp, rel, parent, name); err != nil {
			unix.Renameat(tmp, aside, parent, name)
			return fmt.Errorf("replacing %s: %w", dest, err)
		}
		return nil // aside lies in tmp, removed with it
	}
	if err := unix.Renameat(tmp, rel, parent, name); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}
