package sandbox_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/schema"
)

func requireAvailable(t *testing.T) {
	t.Helper()
	if err := sandbox.Available(); err != nil {
		t.Skip(err)
	}
}

// leftovers lists mounts at or below dir and loop devices whose backing file
// lies below dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	mounts, err := btrfs.Mounts()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if m.MountPoint == dir || strings.HasPrefix(m.MountPoint, dir+"/") {
			found = append(found, "mount "+m.MountPoint)
		}
	}
	out, err := exec.Command("losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE").CombinedOutput()
	if err != nil {
		t.Fatalf("losetup --list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, dir+"/") {
			found = append(found, "loop "+line)
		}
	}
	return found
}

func TestUpDown(t *testing.T) {
	requireAvailable(t)
	ctx := t.Context()
	dir := t.TempDir()
	t.Cleanup(func() { _ = sandbox.Down(context.Background(), dir) })
	const uuid = "d0c5a11d-0000-4000-8000-5a4db0c5e7e1"
	home := filepath.Join(dir, "home")
	usb := filepath.Join(dir, "media", "usb")
	l := sandbox.Layout{
		// Deliberately not in depth order: Up must mount parents first.
		Filesystems: []sandbox.Filesystem{
			{MountPoint: usb, UUID: uuid, Label: "backup-drive", SizeMiB: 64},
			{MountPoint: home, SizeMiB: 32},
			{MountPoint: dir, Label: "root", SizeMiB: 32},
		},
		Subvolumes: []string{dir, filepath.Join(dir, "data"), filepath.Join(home, "alice"), usb},
		Dirs:       []string{filepath.Join(dir, ".snapshots"), filepath.Join(usb, "backups")},
		Fill:       []string{filepath.Join(home, "alice")},
	}
	// Twice, with the same external UUID: a demo is brought up repeatedly.
	for round := range 2 {
		if err := sandbox.Up(ctx, dir, l); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		fsids := map[string]string{}
		for _, mp := range []string{dir, home, usb} {
			m, ok, err := btrfs.MountAt(mp)
			if err != nil || !ok || m.FSType != "btrfs" {
				t.Fatalf("MountAt(%s) = %+v, %t, %v", mp, m, ok, err)
			}
			id, err := btrfs.FilesystemUUID(mp)
			if err != nil {
				t.Fatal(err)
			}
			fsids[id] = mp
		}
		if len(fsids) != 3 {
			t.Errorf("filesystems share a UUID: %v", fsids)
		}
		if fsids[uuid] != usb {
			t.Errorf("external drive UUID: %v, want %s at %s", fsids, uuid, usb)
		}
		if out, _ := exec.Command("btrfs", "filesystem", "label", usb).Output(); strings.TrimSpace(string(out)) != "backup-drive" {
			t.Errorf("label = %q", out)
		}
		for _, sv := range []string{filepath.Join(dir, "data"), filepath.Join(home, "alice")} {
			if _, err := btrfs.Info(sv); err != nil {
				t.Errorf("subvolume %s: %v", sv, err)
			}
		}
		for _, d := range l.Dirs {
			if _, err := btrfs.Info(d); !errors.Is(err, btrfs.ErrNotSubvolume) {
				t.Errorf("dir %s: Info = %v, want plain directory", d, err)
			}
		}
		if entries, _ := os.ReadDir(filepath.Join(home, "alice", "documents")); len(entries) == 0 {
			t.Error("fill wrote nothing")
		}
		if err := sandbox.Up(ctx, dir, l); err == nil || !strings.Contains(err.Error(), "already mounted") {
			t.Errorf("Up over a running sandbox = %v, want refusal", err)
		}
		if _, ok, _ := btrfs.MountAt(usb); !ok {
			t.Fatal("refused Up tore down the running sandbox")
		}

		for range 2 {
			if err := sandbox.Down(ctx, dir); err != nil {
				t.Fatalf("round %d: Down: %v", round, err)
			}
		}
		if left := leftovers(t, dir); len(left) > 0 {
			t.Fatalf("round %d: after Down: %v", round, left)
		}
		if _, err := os.Stat(filepath.Join(dir, ".images")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("round %d: .images survived Down: %v", round, err)
		}
	}
}

func TestDownNeverSetUp(t *testing.T) {
	requireAvailable(t)
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Join(dir, "missing")} {
		if err := sandbox.Down(t.Context(), d); err != nil {
			t.Errorf("Down(%s) = %v", d, err)
		}
	}
}

// TestDownAfterCrash leaves an attached, unmounted loop device behind, as a
// crash between attach and mount would, and expects Down to find it.
func TestDownAfterCrash(t *testing.T) {
	requireAvailable(t)
	dir := t.TempDir()
	t.Cleanup(func() { _ = sandbox.Down(context.Background(), dir) })
	img := filepath.Join(dir, ".images", "00-root.img")
	if err := os.MkdirAll(filepath.Dir(img), 0o700); err != nil {
		t.Fatal(err)
	}
	// Up writes its marker before it makes any image.
	if err := os.WriteFile(filepath.Join(dir, ".images", "drsync-sandbox"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("losetup", "--find", img).CombinedOutput(); err != nil {
		t.Fatalf("losetup: %v\n%s", err, out)
	}
	if len(leftovers(t, dir)) == 0 {
		t.Fatal("setup: loop device not attached")
	}
	if err := sandbox.Down(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, dir); len(left) > 0 {
		t.Errorf("after Down: %v", left)
	}
}

// TestDownLeavesForeignMounts runs down on a sandbox beside which someone
// else mounted a filesystem, and on a directory that is no sandbox at all:
// only what Up mounted is unmounted.
func TestDownLeavesForeignMounts(t *testing.T) {
	requireAvailable(t)
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign")
	if err := os.Mkdir(foreign, 0o755); err != nil {
		t.Fatal(err)
	}
	mountForeign := func() {
		if err := unix.Mount("tmpfs", foreign, "tmpfs", 0, "size=1m"); err != nil {
			t.Skipf("cannot mount a tmpfs: %v", err)
		}
	}
	isMounted := func(mp string) bool {
		_, ok, err := btrfs.MountAt(mp)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	mountForeign()
	t.Cleanup(func() { _ = unix.Unmount(foreign, unix.MNT_DETACH) })
	if err := sandbox.Down(t.Context(), dir); err != nil {
		t.Fatalf("Down of a directory that is no sandbox: %v", err)
	}
	if !isMounted(foreign) {
		t.Fatal("Down of a directory that is no sandbox unmounted a filesystem it did not mount")
	}
	if err := unix.Unmount(foreign, 0); err != nil {
		t.Fatal(err)
	}

	sb := filepath.Join(dir, "sb")
	t.Cleanup(func() { _ = sandbox.Down(context.Background(), dir) })
	if err := sandbox.Up(t.Context(), dir, sandbox.Layout{Filesystems: []sandbox.Filesystem{{MountPoint: sb, SizeMiB: 32}}}); err != nil {
		t.Fatal(err)
	}
	mountForeign()
	if err := sandbox.Down(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	if !isMounted(foreign) {
		t.Error("Down unmounted a filesystem beside the sandbox that it did not mount")
	}
	if isMounted(sb) {
		t.Error("Down left the sandbox's own filesystem mounted")
	}
}

func TestUpFailureCleansUp(t *testing.T) {
	requireAvailable(t)
	dir := t.TempDir()
	t.Cleanup(func() { _ = sandbox.Down(context.Background(), dir) })
	err := sandbox.Up(t.Context(), dir, sandbox.Layout{Filesystems: []sandbox.Filesystem{
		{MountPoint: dir, SizeMiB: 32},
		{MountPoint: filepath.Join(dir, "bad"), UUID: "not-a-uuid", SizeMiB: 32},
	}})
	if err == nil || !strings.Contains(err.Error(), "mkfs.btrfs") {
		t.Fatalf("Up = %v, want mkfs.btrfs error", err)
	}
	if left := leftovers(t, dir); len(left) > 0 {
		t.Errorf("failed Up left %v", left)
	}
	err = sandbox.Up(t.Context(), dir, sandbox.Layout{Filesystems: []sandbox.Filesystem{{MountPoint: "/elsewhere"}}})
	if err == nil {
		t.Error("Up accepted a mount point outside the sandbox")
	}
}

func TestTestFS(t *testing.T) {
	var mnt string
	t.Run("inner", func(t *testing.T) {
		mnt = sandbox.TestFS(t, 16) // the mkfs.btrfs minimum with --mixed
		m, ok, err := btrfs.MountAt(mnt)
		if err != nil || !ok || m.FSType != "btrfs" {
			t.Fatalf("MountAt(%s) = %+v, %t, %v", mnt, m, ok, err)
		}
		if err := btrfs.Create(t.Context(), filepath.Join(mnt, "sub")); err != nil {
			t.Fatal(err)
		}
	})
	if mnt == "" {
		t.Skip("inner test skipped")
	}
	if left := leftovers(t, filepath.Dir(mnt)); len(left) > 0 {
		t.Errorf("after TestFS cleanup: %v", left)
	}
}

// entry is what a replica must reproduce, root-relative.
type entry struct {
	Path, Link, Hash string
	Mode             fs.FileMode
	Size             int64
	MTime            time.Time
	UID, GID         uint32
}

func snapshotTree(t *testing.T, root string) []entry {
	t.Helper()
	var es []entry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		info, _ := d.Info()
		rel, _ := filepath.Rel(root, p)
		e := entry{Path: rel, Mode: info.Mode(), Size: st.Size, MTime: info.ModTime(), UID: st.Uid, GID: st.Gid}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			e.Link, _ = os.Readlink(p)
			e.Link = strings.Replace(e.Link, root, "<root>", 1)
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.Hash = fmt.Sprintf("%x", sha256.Sum256(data))
		}
		es = append(es, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestFillSampleData(t *testing.T) {
	mnt := sandbox.TestFS(t, 128)
	root := filepath.Join(mnt, "a")
	n, err := sandbox.FillSampleData(root, 7)
	if err != nil {
		t.Fatal(err)
	}

	var files, symlinks, hardlinked, sparse, xattrs, nonASCII, empty, large, deep, foreignOwner int
	var diskBytes int64
	modes := map[fs.FileMode]bool{}
	mtimes := map[int64]bool{}
	var symlinkKinds []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		diskBytes += st.Blocks * 512
		mtimes[st.Mtim.Sec] = true
		if strings.Count(rel, "/") >= 3 {
			deep++
		}
		if strings.ContainsFunc(rel, func(r rune) bool { return r > 127 }) {
			nonASCII++
		}
		if st.Uid != 0 || st.Gid != 0 {
			foreignOwner++
		}
		if sz, _ := unix.Llistxattr(p, make([]byte, 1024)); sz > 0 {
			xattrs++
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			files++
			symlinks++
			target, _ := os.Readlink(p)
			_, statErr := os.Stat(p)
			switch {
			case statErr != nil:
				symlinkKinds = append(symlinkKinds, "dangling")
			case strings.HasPrefix(target, root+"/"):
				symlinkKinds = append(symlinkKinds, "absolute-inside")
			case !filepath.IsAbs(target):
				symlinkKinds = append(symlinkKinds, "relative")
			}
		case unix.S_IFREG:
			files++
			modes[fs.FileMode(st.Mode&0o777)] = true
			if st.Nlink == 2 {
				hardlinked++
			}
			if st.Size == 0 {
				empty++
			}
			if st.Size >= 1<<20 && st.Size <= 4<<20 {
				large++
			}
			if st.Size >= 16<<20 && st.Blocks*512 < st.Size/8 {
				sparse++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != files {
		t.Errorf("FillSampleData returned %d, tree has %d non-directories", n, files)
	}
	check := func(what string, got, min int) {
		if got < min {
			t.Errorf("%s: %d, want >= %d", what, got, min)
		}
	}
	check("symlinks", symlinks, 3)
	check("hardlinked names (nlink 2)", hardlinked, 2)
	check("sparse files", sparse, 1)
	check("entries with xattrs", xattrs, 1)
	check("non-ASCII names", nonASCII, 1)
	check("empty files", empty, 1)
	check("1-4 MiB files", large, 2)
	check("entries at depth >= 4", deep, 1)
	check("entries not owned by root", foreignOwner, 1)
	check("distinct mtimes", len(mtimes), 10)
	for _, m := range []fs.FileMode{0o600, 0o755, 0o444} {
		if !modes[m] {
			t.Errorf("no file with mode %v", m)
		}
	}
	for _, k := range []string{"relative", "absolute-inside", "dangling"} {
		if !strings.Contains(strings.Join(symlinkKinds, " "), k) {
			t.Errorf("no %s symlink (got %v)", k, symlinkKinds)
		}
	}
	if diskBytes >= 20<<20 {
		t.Errorf("sample data uses %d bytes on disk, want < 20 MiB", diskBytes)
	}
	if _, err := os.Lstat(filepath.Join(root, "documents/notes/Ærlig talt – notater.txt")); err != nil {
		t.Error(err)
	}
	if sz, err := unix.Getxattr(filepath.Join(root, "documents/notes/Ærlig talt – notater.txt"), "user.comment", make([]byte, 64)); err != nil || sz == 0 {
		t.Errorf("user.comment xattr: %v", err)
	}

	// Deterministic per seed, different across seeds.
	if _, err := sandbox.FillSampleData(filepath.Join(mnt, "b"), 7); err != nil {
		t.Fatal(err)
	}
	if _, err := sandbox.FillSampleData(filepath.Join(mnt, "c"), 8); err != nil {
		t.Fatal(err)
	}
	a, b, c := snapshotTree(t, root), snapshotTree(t, filepath.Join(mnt, "b")), snapshotTree(t, filepath.Join(mnt, "c"))
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("same seed produced different trees")
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Error("different seeds produced identical trees")
	}
}

// TestUpThroughSymlink: mountinfo holds resolved paths, the caller may not.
func TestUpThroughSymlink(t *testing.T) {
	requireAvailable(t)
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sandbox.Down(context.Background(), real) })
	mnt := filepath.Join(link, "mnt")
	if err := sandbox.Up(t.Context(), link, sandbox.Layout{Filesystems: []sandbox.Filesystem{{MountPoint: mnt, SizeMiB: 16}}}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := btrfs.MountAt(mnt); !ok {
		t.Error("MountAt via symlink: not mounted")
	}
	if err := sandbox.Down(t.Context(), link); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, real); len(left) > 0 {
		t.Errorf("after Down via symlink: %v", left)
	}
}

// StartServices writes sample data only where the sandbox owns the paths.
func TestStartServicesStaysInside(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	d := &schema.Desired{Services: map[string]*schema.Service{
		"conf": {Name: "conf", Kind: schema.ServiceFiles, Paths: []string{outside}},
	}}
	err := sandbox.StartServices(t.Context(), dir, d)
	if err == nil || !strings.Contains(err.Error(), "outside the sandbox") {
		t.Fatalf("StartServices with a path outside: %v", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("wrote outside the sandbox: %v", entries)
	}
}

// Down signals only the servers the sandbox started: a pid in the file
// that now belongs to another program is left alone.
func TestDownSparesForeignPids(t *testing.T) {
	dir := t.TempDir()
	sleep := exec.Command("sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleep.Process.Kill()
	os.WriteFile(filepath.Join(dir, ".drsync-sandbox-pids"), []byte(strconv.Itoa(sleep.Process.Pid)+"\n"), 0o644)
	if err := sandbox.Down(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	if err := sleep.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("Down killed a process it did not start: %v", err)
	}
}

// The service script the sandbox installs stops its Prometheus for real
// (the port closes, the TSDB is free to replace) and starts it again on the
// same data; Down stops the restarted one; other services are no-ops and a
// wrong call is refused.
func TestServiceScriptStopsAndStartsPrometheus(t *testing.T) {
	dir := t.TempDir()
	url, err := sandbox.FreeLoopbackURL()
	if err != nil {
		t.Fatal(err)
	}
	d := &schema.Desired{Services: map[string]*schema.Service{
		"tsdb": {Name: "tsdb", Kind: schema.ServicePrometheus, URL: url, DataDir: filepath.Join(dir, "data", "prometheus")},
		"db":   {Name: "db", Kind: schema.ServiceSQLite, Database: filepath.Join(dir, "data", "app.db")},
	}}
	if err := sandbox.StartServices(t.Context(), dir, d); err != nil {
		t.Fatal(err)
	}
	defer sandbox.Down(context.WithoutCancel(t.Context()), dir)
	script := filepath.Join(dir, sandbox.ServiceScript)
	ctl := func(args ...string) error {
		out, err := exec.Command(script, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	answers := func() bool {
		resp, err := http.Get(url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if !answers() {
		t.Fatal("the sandbox's Prometheus does not answer after StartServices")
	}
	if err := ctl("stop", "tsdb"); err != nil {
		t.Fatal(err)
	}
	if answers() {
		t.Error("Prometheus still answers after the script stopped it")
	}
	if err := ctl("stop", "tsdb"); err != nil {
		t.Errorf("stopping a stopped service: %v", err)
	}
	if err := ctl("start", "tsdb"); err != nil {
		t.Fatal(err)
	}
	up := false
	for range 150 { // Prometheus replays its WAL first
		if up = answers(); up {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !up {
		t.Fatal("Prometheus does not answer after the script started it")
	}
	for _, args := range [][]string{{"stop", "db"}, {"start", "db"}} {
		if err := ctl(args...); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
	if err := ctl("restart", "tsdb"); err == nil {
		t.Error("restart, which the script does not know, succeeded")
	}
	if err := sandbox.Down(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	if answers() {
		t.Error("the restarted Prometheus still answers after Down")
	}
}
