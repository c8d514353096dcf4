package verify

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/sandbox"
)

// attributeTree writes every case a restore must preserve and returns the
// rels to restore.
func attributeTree(t *testing.T, root string) []string {
	t.Helper()
	writeFile(t, filepath.Join(root, "a/file.txt"), []byte("hello, restore\n"), 0o644)
	writeFile(t, filepath.Join(root, "a/empty"), nil, 0o644)
	writeFile(t, filepath.Join(root, "xattr"), []byte("with attributes"), 0o640)
	setXattr(t, filepath.Join(root, "xattr"), "user.comment", "keep me")
	setXattr(t, filepath.Join(root, "xattr"), "user.binary", "\x00\xff\x01")
	setMtime(t, filepath.Join(root, "xattr"), mtime)
	writeFile(t, filepath.Join(root, "owned"), []byte("someone else's"), 0o600)
	if err := os.Lchown(filepath.Join(root, "owned"), 1234, 5678); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "bin/suid"), []byte("#!/bin/sh\n"), 0o755)
	if err := os.Chmod(filepath.Join(root, "bin/suid"), 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "readonly"), []byte("do not touch"), 0o444)

	sparse := filepath.Join(root, "sparse.img")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte("data"), 16<<10), 4<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(16 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	setMtime(t, sparse, mtime)

	symlink(t, "../a/file.txt", filepath.Join(root, "links/relative"))
	symlink(t, "nowhere/missing.txt", filepath.Join(root, "links/dangling"))
	return []string{"a/file.txt", "a/empty", "xattr", "owned", "bin/suid", "readonly", "sparse.img", "links/relative", "links/dangling"}
}

func TestRestorePreservesAttributes(t *testing.T) {
	for _, fsys := range []struct {
		name string
		dir  func(t *testing.T) string
	}{
		{"tmp", func(t *testing.T) string { return t.TempDir() }},
		{"btrfs", func(t *testing.T) string { return sandbox.TestFS(t, 128) }},
	} {
		t.Run(fsys.name, func(t *testing.T) {
			base := fsys.dir(t)
			root, scratch := filepath.Join(base, "snap"), filepath.Join(base, "scratch")
			if err := os.Mkdir(scratch, 0o700); err != nil {
				t.Fatal(err)
			}
			rels := attributeTree(t, root)
			for _, rel := range rels {
				if err := Restore(root, rel, scratch); err != nil {
					t.Fatal(err)
				}
				want, got := mustStat(t, root, rel), mustStat(t, scratch, rel)
				if ms := Compare(want, got); len(ms) > 0 {
					t.Errorf("%s: %+v", rel, ms)
				}
				if want.MtimeNs != mtime.UnixNano() && want.Type != typeDir {
					t.Errorf("%s: source mtime %d, test setup wanted %d", rel, want.MtimeNs, mtime.UnixNano())
				}
			}
			got := mustStat(t, scratch, "xattr")
			if got.Xattrs["user.comment"] != "keep me" || got.Xattrs["user.binary"] != "\x00\xff\x01" {
				t.Errorf("xattrs %q", got.Xattrs)
			}
			if got := mustStat(t, scratch, "owned"); got.UID != 1234 || got.GID != 5678 {
				t.Errorf("owner %d:%d", got.UID, got.GID)
			}
			if got := mustStat(t, scratch, "bin/suid"); got.Mode != 0o755|os.ModeSetuid {
				t.Errorf("suid mode %v", got.Mode)
			}
			if got := mustStat(t, scratch, "links/dangling"); got.Type != typeSymlink || got.Link != "nowhere/missing.txt" {
				t.Errorf("dangling symlink restored as %+v", got)
			}
			var st unix.Stat_t
			if err := unix.Stat(filepath.Join(scratch, "sparse.img"), &st); err != nil {
				t.Fatal(err)
			}
			if st.Size != 16<<20 || st.Blocks*512 > 2<<20 {
				t.Errorf("sparse file restored with size %d, %d bytes allocated", st.Size, st.Blocks*512)
			}
		})
	}
}

func TestTestFilesPasses(t *testing.T) {
	dir := t.TempDir()
	ref, snap, scratch := filepath.Join(dir, "ref"), filepath.Join(dir, "snap"), filepath.Join(dir, "scratch")
	rels := attributeTree(t, ref)
	cpA(t, ref, snap)
	if err := os.Mkdir(scratch, 0o700); err != nil {
		t.Fatal(err)
	}
	results, err := TestFiles(context.Background(), snap, ref, scratch, rels)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if len(r.Mismatches) > 0 {
			t.Errorf("%s: %+v", r.Rel, r.Mismatches)
		}
	}
	byRel := map[string]FileResult{}
	for _, r := range results {
		byRel[r.Rel] = r
	}
	x := byRel["xattr"]
	for _, c := range []string{"type", "size", "sha256", "mode", "owner", "mtime", "xattr:user.comment",
		"reference:sha256", "reference:xattr:user.comment"} {
		if !slices.Contains(x.Checks, c) {
			t.Errorf("xattr checks %v lack %s", x.Checks, c)
		}
	}
	if x.Bytes != int64(len("with attributes")) {
		t.Errorf("bytes %d", x.Bytes)
	}
	if !slices.Contains(byRel["links/relative"].Checks, "symlink") {
		t.Errorf("symlink checks %v", byRel["links/relative"].Checks)
	}
}

// TestFaultsDetected damages a copy of a reference tree one way per file and
// checks each damage is reported under its own check name.
func TestFaultsDetected(t *testing.T) {
	dir := t.TempDir()
	ref, snap, scratch := filepath.Join(dir, "ref"), filepath.Join(dir, "snap"), filepath.Join(dir, "scratch")
	data := bytes.Repeat([]byte("0123456789abcdef"), 8<<10)
	rels := []string{"flipped", "mode", "owner", "xattr", "deleted", "truncated", "intact"}
	for _, rel := range rels {
		writeFile(t, filepath.Join(ref, rel), data, 0o644)
		setXattr(t, filepath.Join(ref, rel), "user.k", "v")
		setMtime(t, filepath.Join(ref, rel), mtime)
	}
	cpA(t, ref, snap)
	if err := os.Mkdir(scratch, 0o700); err != nil {
		t.Fatal(err)
	}
	p := func(rel string) string { return filepath.Join(snap, rel) }
	f, err := os.OpenFile(p("flipped"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{data[77777] ^ 0x01}, 77777); err != nil {
		t.Fatal(err)
	}
	f.Close()
	setMtime(t, p("flipped"), mtime) // bit rot leaves the mtime alone
	if err := os.Chmod(p("mode"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(p("owner"), 1, 1); err != nil {
		t.Fatal(err)
	}
	setXattr(t, p("xattr"), "user.k", "changed")
	if err := os.Remove(p("deleted")); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p("truncated"), 1000); err != nil {
		t.Fatal(err)
	}
	setMtime(t, p("truncated"), mtime)

	results, err := TestFiles(context.Background(), snap, ref, scratch, rels)
	if err != nil {
		t.Fatal(err)
	}
	var ms []Mismatch
	for _, r := range results {
		ms = append(ms, r.Mismatches...)
	}
	assertChecks(t, ms, [][2]string{
		{"deleted", "missing"},
		{"flipped", "reference:sha256"},
		{"mode", "reference:mode"},
		{"owner", "reference:owner"},
		{"truncated", "reference:sha256"},
		{"truncated", "reference:size"},
		{"xattr", "reference:xattr:user.k"},
	})
	for _, m := range ms {
		if m.Check == "reference:mode" && (m.Want != "0644" || m.Got != "0600") {
			t.Errorf("mode mismatch shows %q -> %q", m.Want, m.Got)
		}
		if m.Check == "reference:xattr:user.k" && (m.Want != `"v"` || m.Got != `"changed"`) {
			t.Errorf("xattr mismatch shows %q -> %q", m.Want, m.Got)
		}
	}
}

func TestCompare(t *testing.T) {
	base := FileInfo{Rel: "f", Type: typeFile, Size: 3, Mode: 0o644, UID: 1, GID: 2, MtimeNs: 5, SHA256: "aa",
		Xattrs: map[string]string{"user.a": "1", "security.selinux": "x"}}
	for _, tc := range []struct {
		name   string
		change func(*FileInfo)
		want   []string
	}{
		{"same", func(*FileInfo) {}, nil},
		{"type alone", func(f *FileInfo) { f.Type, f.Size = typeDir, 9 }, []string{"type"}},
		{"mtime ns", func(f *FileInfo) { f.MtimeNs++ }, []string{"mtime"}},
		{"setgid", func(f *FileInfo) { f.Mode |= os.ModeSetgid }, []string{"mode"}},
		{"gid", func(f *FileInfo) { f.GID = 3 }, []string{"owner"}},
		{"xattrs", func(f *FileInfo) {
			f.Xattrs = map[string]string{"user.a": "2", "user.new": ""}
		}, []string{"xattr:security.selinux", "xattr:user.a", "xattr:user.new"}},
		{"nlink ignored", func(f *FileInfo) { f.Nlink = 7 }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := base
			tc.change(&got)
			var checks []string
			for _, m := range Compare(base, got) {
				checks = append(checks, m.Check)
			}
			if !slices.Equal(checks, tc.want) {
				t.Errorf("checks %v, want %v", checks, tc.want)
			}
		})
	}
}

func TestRestoreSafety(t *testing.T) {
	dir := t.TempDir()
	root, scratch, outside := filepath.Join(dir, "snap"), filepath.Join(dir, "scratch"), filepath.Join(dir, "outside")
	writeFile(t, filepath.Join(outside, "passwd"), []byte("outside\n"), 0o644)
	writeFile(t, filepath.Join(root, "sub/file"), []byte("inside\n"), 0o644)
	writeFile(t, filepath.Join(root, "a/file.txt"), []byte("inside\n"), 0o644)
	symlink(t, "/etc", filepath.Join(root, "etc"))
	symlink(t, outside, filepath.Join(root, "link"))
	if err := os.Mkdir(scratch, 0o700); err != nil {
		t.Fatal(err)
	}
	// Planted in scratch: a directory symlink and a final-component symlink.
	symlink(t, outside, filepath.Join(scratch, "sub"))
	symlink(t, filepath.Join(outside, "planted"), filepath.Join(scratch, "a/file.txt"))

	for _, rel := range []string{"etc/passwd", "link/passwd", "../x", "/etc/passwd", "a/../../x", "sub/file", "a/file.txt"} {
		if err := Restore(root, rel, scratch); err == nil {
			t.Errorf("Restore(%q) succeeded", rel)
		}
	}
	for _, rel := range []string{"etc/passwd", "link/passwd", "../snap/a/file.txt"} {
		if _, err := Stat(root, rel); err == nil {
			t.Errorf("Stat(%q) succeeded", rel)
		}
	}
	entries, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "passwd" {
		t.Errorf("outside now holds %v", entries)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "passwd")); string(b) != "outside\n" {
		t.Errorf("outside/passwd changed: %q", b)
	}
	for _, p := range []string{"etc/passwd", "link/passwd"} {
		if _, err := os.Lstat(filepath.Join(scratch, p)); err == nil {
			t.Errorf("scratch/%s was written", p)
		}
	}
}

func TestWalkBeneathRefusesSymlinks(t *testing.T) {
	dir := t.TempDir()
	symlink(t, "/etc", filepath.Join(dir, "etc"))
	if err := os.MkdirAll(filepath.Join(dir, "a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	open := func(rel string, mkdir bool) error {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fd, err = walkBeneath(fd, rel, mkdir)
		if err == nil {
			unix.Close(fd)
		}
		return err
	}
	if err := open("a/b", false); err != nil {
		t.Error(err)
	}
	if err := open("etc", false); err == nil {
		t.Error("walked through etc -> /etc")
	}
	if err := open("etc/new", true); err == nil {
		t.Error("created beneath etc -> /etc")
	}
	if err := open("c/d", true); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "c/d")); err != nil {
		t.Error(err)
	}
}
