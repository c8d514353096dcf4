package sandbox

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

type filler struct {
	root   string
	stream *rand.ChaCha8 // also the rng's source: file contents are one Read each
	rng    *rand.Rand
	files  int
}

func (f *filler) dir(rel string, mode os.FileMode) error {
	p := filepath.Join(f.root, rel)
	if err := os.MkdirAll(p, 0o755); err != nil {
		return err
	}
	return os.Chmod(p, mode)
}

func (f *filler) file(rel string, size int, mode os.FileMode) error {
	p := filepath.Join(f.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	data := make([]byte, size)
	_, _ = f.stream.Read(data) // never fails
	if err := os.WriteFile(p, data, 0o600); err != nil {
		return err
	}
	f.files++
	return os.Chmod(p, mode) // explicit: WriteFile's mode is subject to umask
}

func (f *filler) symlink(target, rel string) error {
	p := filepath.Join(f.root, rel)
	if err := os.Symlink(target, p); err != nil {
		return err
	}
	f.files++
	return nil
}

// FillSampleData writes a deterministic (per seed) tree under root with the
// awkward cases a replica must preserve: deep nesting, empty, large and
// sparse files, relative/absolute/dangling symlinks, a hardlink pair, user
// xattrs, spaces and non-ASCII names, varied modes, mtimes and owners.
// Total disk use stays under 20 MiB. It returns the number of non-directory
// entries written (regular files, the extra hardlink name, symlinks).
func FillSampleData(root string, seed int64) (int, error) {
	abs, err := filepath.Abs(root) // the absolute symlink must point inside root
	if err != nil {
		return 0, err
	}
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], uint64(seed))
	stream := rand.NewChaCha8(key)
	f := &filler{root: abs, stream: stream, rng: rand.New(stream)}
	if err := f.fill(); err != nil {
		return 0, fmt.Errorf("fill sample data %s: %w", root, err)
	}
	return f.files, nil
}

func (f *filler) fill() error {
	rng := f.rng
	steps := []func() error{
		func() error { return f.dir("documents/reports/2023/q1", 0o755) },
		func() error { return f.file("documents/reports/2023/q1/summary.txt", 2000+rng.IntN(8000), 0o644) },
		func() error { return f.file("documents/reports/2023/q1/empty.log", 0, 0o644) },
		func() error { return f.file("documents/readme.md", 500+rng.IntN(1500), 0o444) },
		func() error { return f.file("documents/notes/Ærlig talt – notater.txt", 100+rng.IntN(4000), 0o644) },
		func() error { return f.file("documents/notes/meeting notes 2024.md", 100+rng.IntN(4000), 0o644) },
		func() error { return f.file("documents/notes/.hidden", 0, 0o600) },
		func() error { return f.dir("photos/2022/summer trip", 0o755) },
		func() error { return f.file("photos/2022/summer trip/IMG_0001.raw", (1+rng.IntN(3))<<20, 0o644) },
		func() error { return f.file("photos/2022/summer trip/IMG_0002.raw", (1+rng.IntN(3))<<20, 0o644) },
		func() error { return f.file("photos/日本語/写真 説明.txt", 100+rng.IntN(1000), 0o644) },
		func() error { return f.file("code/project/src/main.go", 1000+rng.IntN(4000), 0o644) },
		func() error { return f.file("code/project/src/util/helpers.go", 1000+rng.IntN(4000), 0o644) },
		func() error { return f.file("code/project/bin/run.sh", 200, 0o755) },
		func() error { return f.file("code/secrets.env", 64, 0o600) },
		func() error { return f.dir("code/private", 0o700) },
		func() error { return f.file("media/video.bin", (1+rng.IntN(4))<<20, 0o644) },
		f.sparse,
		func() error {
			for i := range 3 + rng.IntN(8) {
				if err := f.file(fmt.Sprintf("documents/misc/file-%02d.dat", i), rng.IntN(64<<10), 0o644); err != nil {
					return err
				}
			}
			return nil
		},
		func() error { return f.dir("links", 0o755) },
		func() error { return f.symlink("../documents/readme.md", "links/relative readme") },
		func() error { return f.symlink(filepath.Join(f.root, "documents/notes"), "links/absolute-notes") },
		func() error { return f.symlink("../nowhere/missing.txt", "links/dangling") },
		func() error {
			f.files++
			return os.Link(filepath.Join(f.root, "documents/reports/2023/q1/summary.txt"), filepath.Join(f.root, "links/summary hardlink.txt"))
		},
		f.xattrs,
		f.owners,
		f.mtimes,
	}
	if err := os.MkdirAll(f.root, 0o755); err != nil {
		return err
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// sparse writes a 64 MiB file with two small extents and holes elsewhere.
func (f *filler) sparse() error {
	p := filepath.Join(f.root, "media/disk image.img")
	file, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer file.Close()
	chunk := make([]byte, 64<<10)
	_, _ = f.stream.Read(chunk)
	if _, err := file.WriteAt(chunk, 0); err != nil {
		return err
	}
	if _, err := file.WriteAt(chunk, 40<<20); err != nil {
		return err
	}
	if err := file.Truncate(64 << 20); err != nil {
		return err
	}
	f.files++
	return file.Close()
}

func (f *filler) xattrs() error {
	for rel, attrs := range map[string]map[string]string{
		"documents/notes/Ærlig talt – notater.txt": {"user.comment": "private notes", "user.lang": "da"},
		"photos/2022/summer trip/IMG_0001.raw":     {"user.checksum": fmt.Sprintf("%016x", f.rng.Uint64())},
		"code/project":                             {"user.project": "drsync sample"},
	} {
		for k, v := range attrs {
			if err := unix.Setxattr(filepath.Join(f.root, rel), k, []byte(v), 0); err != nil {
				return fmt.Errorf("setxattr %s %s: %w", rel, k, err)
			}
		}
	}
	return nil
}

func (f *filler) owners() error {
	for rel, ids := range map[string][2]int{
		"code/project":                         {1000, 1000},
		"code/project/src/main.go":             {1000, 1000},
		"photos/2022/summer trip/IMG_0002.raw": {1001, 100},
		"links/dangling":                       {65534, 65534},
	} {
		if err := os.Lchown(filepath.Join(f.root, rel), ids[0], ids[1]); err != nil {
			return err
		}
	}
	return nil
}

// mtimes runs last because creating entries bumps directory mtimes. The walk
// is lexical, so the times are deterministic too.
func (f *filler) mtimes() error {
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	return filepath.WalkDir(f.root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil || p == f.root {
			return err
		}
		t := unix.NsecToTimespec(base.Add(time.Duration(f.rng.Int64N(int64(4 * 365 * 24 * time.Hour)))).UnixNano())
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{t, t}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("set mtime %s: %w", p, err)
		}
		return nil
	})
}
