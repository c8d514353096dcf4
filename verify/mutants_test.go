package verify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests pin rules of CompareTrees that mutation testing (make mutate)
// found no test for: each was inverted and every other test still passed.

// TestMutantTreeNeverFollowsSymlinkWhereOneSideIsDir: where want has a
// directory and got a symlink to a directory elsewhere, the symlink is a
// type mismatch and is not descended, so nothing outside got is read or
// compared as if it were part of the tree.
func TestMutantTreeNeverFollowsSymlinkWhereOneSideIsDir(t *testing.T) {
	want, got, elsewhere := t.TempDir(), t.TempDir(), t.TempDir()
	mustWrite(t, filepath.Join(want, "d", "f"), "in the tree")
	mustWrite(t, filepath.Join(elsewhere, "f"), "elsewhere!!")
	if err := os.Symlink(elsewhere, filepath.Join(got, "d")); err != nil {
		t.Fatal(err)
	}
	syncMeta(t, want, got)

	rep, err := CompareTrees(t.Context(), want, got, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Mismatches) != 1 || rep.Mismatches[0].Rel != "d" || rep.Mismatches[0].Check != "type" {
		t.Errorf("mismatches %+v, want only d's type", rep.Mismatches)
	}
	if rep.Files != 0 || rep.Bytes != 0 {
		t.Errorf("compared %d files, read %d bytes: it went through the symlink", rep.Files, rep.Bytes)
	}
}

// TestMutantTreeReportsReadErrorOnOneSide: when only got's side of an entry
// cannot be read (its full path is longer than PATH_MAX), the comparison
// must not pass that off as a missing entry or as a type change: the entry
// is reported as unreadable, or, by a walker that needs no full paths,
// compared and found equal. Both a file and a directory are tried.
func TestMutantTreeReportsReadErrorOnOneSide(t *testing.T) {
	want := t.TempDir()
	got := longDir(t, t.TempDir(), unix.PathMax-3) // got itself is reachable, got/<name> is not
	gotFd, err := unix.Open(got, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(gotFd)
	const file, dir, child = "file-with-a-long-name", "dir-with-a-long-name", "child"
	mustWrite(t, filepath.Join(want, file), "same")
	mustWrite(t, filepath.Join(want, dir, child), "same")
	writeAt(t, gotFd, file, "same")
	if err := unix.Mkdirat(gotFd, dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dfd, err := unix.Openat(gotFd, dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	writeAt(t, dfd, child, "same")
	// The same times on both sides, so that a walker able to read got finds
	// the trees equal.
	fixed := []unix.Timespec{{Sec: 1e9}, {Sec: 1e9}}
	for _, at := range []struct {
		fd   int
		name string
	}{{dfd, child}, {gotFd, file}, {gotFd, dir}} {
		if err := unix.UtimesNanoAt(at.fd, at.name, fixed, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
	}
	unix.Close(dfd)
	for _, rel := range []string{filepath.Join(dir, child), file, dir} {
		if err := os.Chtimes(filepath.Join(want, rel), time.Unix(1e9, 0), time.Unix(1e9, 0)); err != nil {
			t.Fatal(err)
		}
	}
	syncMeta(t, want, got)

	rep, err := CompareTrees(t.Context(), want, got, nil)
	if err != nil {
		t.Fatal(err)
	}
	unreadable := map[string]bool{}
	for _, m := range rep.Mismatches {
		switch {
		case m.Check == "read" && strings.Contains(m.Got, "file name too long"):
			unreadable[m.Rel] = true
		case m.Rel == ".":
			// the roots' link counts and sizes: not what this test is about
		default:
			t.Errorf("%s: %s mismatch (want %q, got %q): an unreadable side passed off as a difference", m.Rel, m.Check, m.Want, m.Got)
		}
	}
	for _, rel := range []string{file, dir} {
		if !unreadable[rel] && rep.Entries < 4 {
			t.Errorf("%s: neither reported unreadable nor compared (%d entries)", rel, rep.Entries)
		}
	}
}

// longDir makes a directory beneath base whose path is exactly n bytes
// long, creating its components through directory fds.
func longDir(t *testing.T, base string, n int) string {
	t.Helper()
	p := base
	fd, err := unix.Open(base, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for len(p) < n {
		name := strings.Repeat("d", min(200, n-len(p)-1))
		if err := unix.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd, p = next, p+"/"+name
	}
	unix.Close(fd)
	if len(p) != n {
		t.Fatalf("made a path of %d bytes, want %d", len(p), n)
	}
	return p
}

func mustWrite(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeAt(t *testing.T, dirfd int, name, content string) {
	t.Helper()
	fd, err := unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte(content)); err != nil {
		t.Fatal(err)
	}
}

// syncMeta gives got's roots the same mode and times as want's, so the
// roots themselves compare equal.
func syncMeta(t *testing.T, want, got string) {
	t.Helper()
	st, err := os.Stat(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(got, st.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(got, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
}
