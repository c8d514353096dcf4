package btrfs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/sandbox"
)

func btrfsCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("btrfs", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("btrfs %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// show parses `btrfs subvolume show` into key/value pairs, "-" meaning unset.
func show(t *testing.T, path string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(btrfsCmd(t, "subvolume", "show", path), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if v == "-" {
			v = ""
		}
		m[strings.TrimSpace(k)] = v
	}
	return m
}

func writeRandom(t *testing.T, path string, size int) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func info(t *testing.T, path string) btrfs.Subvolume {
	t.Helper()
	sv, err := btrfs.Info(path)
	if err != nil {
		t.Fatal(err)
	}
	return sv
}

// replicaSetup makes a source subvolume with a read-only snapshot and a
// receive directory on a second filesystem, like a backup drive.
func replicaSetup(t *testing.T, dataSize int) (src, snap, recvDir string) {
	t.Helper()
	ctx := t.Context()
	mnt := sandbox.TestFS(t, 0)
	src = filepath.Join(mnt, "data")
	if err := btrfs.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	writeRandom(t, filepath.Join(src, "blob"), dataSize)
	snap = filepath.Join(mnt, "data.1")
	if err := btrfs.Snapshot(ctx, src, snap); err != nil {
		t.Fatal(err)
	}
	recvDir = filepath.Join(sandbox.TestFS(t, 0), "backups")
	if err := os.Mkdir(recvDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return src, snap, recvDir
}

func TestInfoMatchesSubvolumeShow(t *testing.T) {
	src, snap, recvDir := replicaSetup(t, 1<<20)
	if _, err := btrfs.Send(t.Context(), snap, "", recvDir, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Dir(src), src, snap, filepath.Join(recvDir, "data.1")} {
		got := info(t, p)
		want := show(t, p)
		if got.Path != p || got.Name != filepath.Base(p) {
			t.Errorf("%s: Path/Name = %q/%q", p, got.Path, got.Name)
		}
		if got.UUID == "" || got.UUID != want["UUID"] {
			t.Errorf("%s: UUID = %q, show says %q", p, got.UUID, want["UUID"])
		}
		if got.ParentUUID != want["Parent UUID"] {
			t.Errorf("%s: ParentUUID = %q, show says %q", p, got.ParentUUID, want["Parent UUID"])
		}
		if got.ReceivedUUID != want["Received UUID"] {
			t.Errorf("%s: ReceivedUUID = %q, show says %q", p, got.ReceivedUUID, want["Received UUID"])
		}
		if got.ReadOnly != (want["Flags"] == "readonly") {
			t.Errorf("%s: ReadOnly = %t, show flags %q", p, got.ReadOnly, want["Flags"])
		}
		if gen := want["Generation"]; gen == "" || got.Generation == 0 || gen != strconv.FormatUint(got.Generation, 10) {
			t.Errorf("%s: Generation = %d, show says %q", p, got.Generation, gen)
		}
		if d := time.Since(got.Created); d < 0 || d > time.Hour {
			t.Errorf("%s: Created = %v, want just now", p, got.Created)
		}
	}
	if s := info(t, snap); s.ParentUUID != info(t, src).UUID || !s.ReadOnly {
		t.Errorf("snapshot: %+v, want ro child of %s", s, src)
	}
}

func TestInfoNotSubvolume(t *testing.T) {
	mnt := sandbox.TestFS(t, 0)
	plainDir := filepath.Join(mnt, "dir")
	file := filepath.Join(mnt, "file")
	if err := os.Mkdir(plainDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{plainDir, file, t.TempDir()} { // TempDir: not btrfs here
		if _, err := btrfs.Info(p); !errors.Is(err, btrfs.ErrNotSubvolume) {
			t.Errorf("Info(%s) = %v, want ErrNotSubvolume", p, err)
		}
	}
	if _, err := btrfs.Info(filepath.Join(mnt, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Info(missing) = %v, want ErrNotExist", err)
	}
}

func TestList(t *testing.T) {
	ctx := t.Context()
	mnt := sandbox.TestFS(t, 0)
	for _, name := range []string{"b", "a", "c"} {
		if err := btrfs.Create(ctx, filepath.Join(mnt, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := btrfs.Snapshot(ctx, filepath.Join(mnt, "a"), filepath.Join(mnt, "a.snap")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(mnt, "plain"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a", filepath.Join(mnt, "link-to-a")); err != nil {
		t.Fatal(err)
	}
	subs, others, err := btrfs.List(mnt)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range subs {
		names = append(names, s.Name)
	}
	if want := []string{"a", "a.snap", "b", "c"}; !slices.Equal(names, want) {
		t.Errorf("subvolumes = %v, want %v", names, want)
	}
	if !subs[1].ReadOnly || subs[1].ParentUUID != subs[0].UUID {
		t.Errorf("a.snap = %+v, want ro snapshot of a", subs[1])
	}
	if want := []string{"file", "link-to-a", "plain"}; !slices.Equal(others, want) {
		t.Errorf("others = %v, want %v", others, want)
	}

	subs, others, err = btrfs.List(filepath.Join(mnt, "missing"))
	if err != nil || subs != nil || others != nil {
		t.Errorf("List(missing) = %v, %v, %v; want empty", subs, others, err)
	}
}

func TestCreateSnapshotDelete(t *testing.T) {
	ctx := t.Context()
	mnt := sandbox.TestFS(t, 0)
	src := filepath.Join(mnt, "src")
	snap := filepath.Join(mnt, "src.snap")
	if err := btrfs.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	if err := btrfs.Snapshot(ctx, src, snap); err != nil {
		t.Fatal(err)
	}
	if s := info(t, snap); !s.ReadOnly || s.ParentUUID != info(t, src).UUID {
		t.Fatalf("snapshot = %+v, want read-only child of src", s)
	}
	if err := btrfs.Delete(ctx, snap, src); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(snap); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read-only snapshot survived Delete: %v", err)
	}
	err := btrfs.Delete(ctx, filepath.Join(mnt, "missing"))
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Delete(missing) = %v, want error naming the path", err)
	}
}

func TestSendFullThenIncremental(t *testing.T) {
	ctx := t.Context()
	src, snap1, recvDir := replicaSetup(t, 4<<20)
	var calls []int64
	full, err := btrfs.Send(ctx, snap1, "", recvDir, func(n int64) { calls = append(calls, n) })
	if err != nil {
		t.Fatal(err)
	}
	if full.Bytes < 4<<20 || full.Duration <= 0 {
		t.Errorf("full send = %+v, want >= 4 MiB", full)
	}
	if len(calls) == 0 || calls[len(calls)-1] > full.Bytes {
		t.Errorf("progress calls %v, total %d", calls, full.Bytes)
	}

	f, err := os.OpenFile(filepath.Join(src, "blob"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	change := make([]byte, 10<<10)
	rand.Read(change)
	if _, err := f.WriteAt(change, 1<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	snap2 := filepath.Join(filepath.Dir(src), "data.2")
	if err := btrfs.Snapshot(ctx, src, snap2); err != nil {
		t.Fatal(err)
	}
	incr, err := btrfs.Send(ctx, snap2, snap1, recvDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if incr.Bytes >= 1<<20 || incr.Bytes < 10<<10 {
		t.Errorf("incremental send = %d bytes, want 10 KiB..1 MiB (full was %d)", incr.Bytes, full.Bytes)
	}

	for _, s := range []string{snap1, snap2} {
		r := info(t, filepath.Join(recvDir, filepath.Base(s)))
		if r.ReceivedUUID != info(t, s).UUID || !r.ReadOnly {
			t.Errorf("replica of %s = %+v, want read-only with ReceivedUUID %s", s, r, info(t, s).UUID)
		}
	}
	want, _ := os.ReadFile(filepath.Join(snap2, "blob"))
	got, _ := os.ReadFile(filepath.Join(recvDir, "data.2", "blob"))
	if !bytes.Equal(got, want) {
		t.Error("incremental replica content differs from source")
	}

	if _, err := btrfs.Send(ctx, snap1, "", recvDir, nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("resend over existing replica = %v, want refusal", err)
	}
	if _, err := os.Stat(filepath.Join(recvDir, "data.1", "blob")); err != nil {
		t.Errorf("refused send harmed the existing replica: %v", err)
	}
}

// TestSendCancelled cancels once receive has created the target subvolume,
// i.e. mid-stream, and expects the half-received subvolume to be gone.
func TestSendCancelled(t *testing.T) {
	_, snap, recvDir := replicaSetup(t, 96<<20)
	target := filepath.Join(recvDir, filepath.Base(snap))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if _, err := os.Lstat(target); err == nil {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	_, err := btrfs.Send(ctx, snap, "", recvDir, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v, want context.Canceled", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("half-received %s left behind (%v)", target, err)
	}
}

// TestSendReceiveFails fills up the target so receive dies after creating the
// subvolume.
func TestSendReceiveFails(t *testing.T) {
	ctx := t.Context()
	_, snap, _ := replicaSetup(t, 48<<20)
	small := filepath.Join(sandbox.TestFS(t, 32), "backups")
	if err := os.Mkdir(small, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := btrfs.Send(ctx, snap, "", small, nil)
	if err == nil || !strings.Contains(err.Error(), "btrfs receive") || !strings.Contains(err.Error(), "ERROR") {
		t.Fatalf("Send to full fs = %v, want receive error with its stderr", err)
	}
	if _, err := os.Lstat(filepath.Join(small, filepath.Base(snap))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("half-received subvolume left behind (%v)", err)
	}
}

func TestSendWritableSnapshotFails(t *testing.T) {
	src, _, recvDir := replicaSetup(t, 64<<10)
	_, err := btrfs.Send(t.Context(), src, "", recvDir, nil) // src is read-write
	if err == nil || !strings.Contains(err.Error(), "btrfs send: exit status") || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("Send = %v, want send-side error with its stderr", err)
	}
	if _, err := os.Lstat(filepath.Join(recvDir, filepath.Base(src))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("target left behind (%v)", err)
	}
}

func TestSendMissingParent(t *testing.T) {
	ctx := t.Context()
	src, snap1, recvDir := replicaSetup(t, 1<<20)
	snap2 := filepath.Join(filepath.Dir(src), "data.2")
	if err := btrfs.Snapshot(ctx, src, snap2); err != nil {
		t.Fatal(err)
	}
	_, err := btrfs.Send(ctx, snap2, snap1, recvDir, nil) // snap1 never sent
	if err == nil || !strings.Contains(err.Error(), "btrfs receive") || !strings.Contains(err.Error(), "parent") {
		t.Fatalf("Send = %v, want receive error about the parent", err)
	}
	if _, err := os.Lstat(filepath.Join(recvDir, "data.2")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("half-received subvolume left behind (%v)", err)
	}
}

func TestSetReceivedUUIDRoundTrip(t *testing.T) {
	_, snap, recvDir := replicaSetup(t, 64<<10)
	if _, err := btrfs.Send(t.Context(), snap, "", recvDir, nil); err != nil {
		t.Fatal(err)
	}
	replica := filepath.Join(recvDir, "data.1")
	orig := info(t, replica).ReceivedUUID
	stransid := show(t, replica)["Send transid"]

	if err := btrfs.SetReceivedUUID(replica, orig, 1); err == nil {
		t.Error("SetReceivedUUID on a read-only subvolume succeeded; the kernel should refuse")
	}
	if err := btrfs.SetReadOnly(replica, false); err != nil {
		t.Fatal(err)
	}
	if r := info(t, replica); r.ReadOnly || r.ReceivedUUID != "" {
		t.Fatalf("after ro=false: %+v, want writable with received uuid cleared", r)
	}
	if err := os.WriteFile(filepath.Join(replica, "tampered"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := btrfs.SetReceivedUUID(replica, orig, 42); err != nil {
		t.Fatal(err)
	}
	if err := btrfs.SetReadOnly(replica, true); err != nil {
		t.Fatal(err)
	}
	r := info(t, replica)
	if !r.ReadOnly || r.ReceivedUUID != orig {
		t.Errorf("after restore: %+v, want read-only with ReceivedUUID %s", r, orig)
	}
	if s := show(t, replica); s["Received UUID"] != orig || s["Send transid"] != "42" {
		t.Errorf("btrfs subvolume show: received %q stransid %q (was %s)", s["Received UUID"], s["Send transid"], stransid)
	}
	if err := btrfs.SetReceivedUUID(replica, "not-a-uuid", 1); err == nil {
		t.Error("SetReceivedUUID accepted a malformed uuid")
	}
}

func TestMountAt(t *testing.T) {
	bare := t.TempDir()
	if m, ok, err := btrfs.MountAt(bare); err != nil || ok {
		t.Errorf("MountAt(bare dir) = %+v, %t, %v; want false", m, ok, err)
	}
	mnt := sandbox.TestFS(t, 0)
	m, ok, err := btrfs.MountAt(mnt)
	if err != nil || !ok {
		t.Fatalf("MountAt(%s) = %t, %v", mnt, ok, err)
	}
	if m.MountPoint != mnt || m.FSType != "btrfs" || m.Root != "/" || !strings.HasPrefix(m.Source, "/dev/loop") {
		t.Errorf("MountAt = %+v", m)
	}
	if _, ok, _ := btrfs.MountAt(filepath.Join(mnt, ".")); !ok {
		t.Error("MountAt does not clean the path")
	}
}

func TestFilesystemUUID(t *testing.T) {
	if err := sandbox.Available(); err != nil {
		t.Skip(err)
	}
	const uuid = "0b5e55ed-d5c0-4e7a-9d1f-5a11d0c0ffee"
	dir := t.TempDir()
	t.Cleanup(func() {
		if err := sandbox.Down(context.Background(), dir); err != nil {
			t.Error(err)
		}
	})
	mnt := filepath.Join(dir, "ext")
	if err := sandbox.Up(t.Context(), dir, sandbox.Layout{
		Filesystems: []sandbox.Filesystem{{MountPoint: mnt, UUID: uuid, SizeMiB: 32}},
		Subvolumes:  []string{filepath.Join(mnt, "sub")},
	}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{mnt, filepath.Join(mnt, "sub")} {
		got, err := btrfs.FilesystemUUID(p)
		if err != nil || got != uuid {
			t.Errorf("FilesystemUUID(%s) = %q, %v; want %s", p, got, err, uuid)
		}
	}
	if _, err := btrfs.FilesystemUUID(t.TempDir()); err == nil {
		t.Error("FilesystemUUID on a non-btrfs dir succeeded")
	}
}
