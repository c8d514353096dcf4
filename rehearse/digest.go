package rehearse

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// digest sums a tree as recovery must bring it back: each entry's path,
// type, mode, size and content (a symlink's target). Nested subvolumes and
// mount points (another device) and the skipped paths (snapshot
// directories inside a source) are left out: they are not the
// subvolume's data, and a snapshot holds them as empty directories.
type digest struct {
	Sum     string
	Entries int
	Bytes   int64
}

func treeDigest(root string, skip []string) (digest, error) {
	var top os.FileInfo
	top, err := os.Lstat(root)
	if err != nil {
		return digest{}, err
	}
	dev := top.Sys().(*syscall.Stat_t).Dev
	h := sha256.New()
	var d digest
	err = filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if slices.Contains(skip, rel) {
			return fs.SkipDir
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		if info.Sys().(*syscall.Stat_t).Dev != dev {
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		fmt.Fprintf(h, "%q %v %d\n", rel, info.Mode(), info.Size())
		d.Entries++
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "-> %q\n", target)
		case info.Mode().IsRegular():
			n, err := hashFile(h, path)
			if err != nil {
				return err
			}
			d.Bytes += n
		}
		return nil
	})
	if err != nil {
		return digest{}, fmt.Errorf("summing %s: %w", root, err)
	}
	d.Sum = hex.EncodeToString(h.Sum(nil))
	return d, nil
}

// hashFile adds a regular file's content to h, opened without following a
// symlink swapped in since the walk saw it.
func hashFile(h io.Writer, path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(h, f)
}

// fileSum is the SHA-256 of one regular file's content.
func fileSum(path string) (string, int64, error) {
	h := sha256.New()
	n, err := hashFile(h, path)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
