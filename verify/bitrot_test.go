package verify

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/sandbox"
)

// fiemap mirrors struct fiemap with room for one extent.
type fiemap struct {
	start, length                     uint64
	flags, mappedExtents, extentCount uint32
	_                                 uint32
	logical, physical, extentLength   uint64
	_                                 [2]uint64
	extentFlags                       uint32
	_                                 [3]uint32
}

const fsIocFiemap = 0xC020660B

// firstExtent returns the btrfs logical address of p's first extent.
func firstExtent(t *testing.T, p string) uint64 {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fm := fiemap{length: ^uint64(0), flags: 1 /* FIEMAP_FLAG_SYNC */, extentCount: 1}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFiemap, uintptr(unsafe.Pointer(&fm))); errno != 0 {
		t.Fatalf("FIEMAP %s: %v", p, errno)
	}
	const inlineOrEncoded = 0x200 | 0x8 // FIEMAP_EXTENT_DATA_INLINE | _ENCODED
	if fm.mappedExtents != 1 || fm.extentFlags&inlineOrEncoded != 0 {
		t.Fatalf("FIEMAP %s: %d extents, flags %#x: want one plain extent", p, fm.mappedExtents, fm.extentFlags)
	}
	return fm.physical // for btrfs, "physical" is the logical address
}

// TestBitRotIsReadError corrupts a file's data extent in the loop image,
// every mirror of it, behind btrfs's back, and checks the checksum failure
// (EIO) surfaces as a "read" mismatch from Stat, TestFiles and CompareTrees.
func TestBitRotIsReadError(t *testing.T) {
	if _, err := exec.LookPath("btrfs-map-logical"); err != nil {
		t.Skip("btrfs-map-logical (btrfs-progs) not installed: cannot map the extent into the image")
	}
	mnt := sandbox.TestFS(t, 128)
	images, err := filepath.Glob(filepath.Join(filepath.Dir(mnt), ".images", "*.img"))
	if err != nil || len(images) != 1 {
		t.Fatalf("want the one sandbox image, found %v (%v)", images, err)
	}
	// Random data: nothing compresses or inlines it. The big file spans
	// several read chunks, the small one a single read.
	rotten := map[string]int{"rotten-small.bin": 256 << 10, "rotten-big.bin": 8 << 20}
	for name, size := range rotten {
		data := make([]byte, size)
		rand.Read(data)
		writeFile(t, filepath.Join(mnt, "d", name), data, 0o644)
	}
	writeFile(t, filepath.Join(mnt, "d/fine.bin"), []byte("fine"), 0o644)
	reference := filepath.Join(t.TempDir(), "ref")
	cpA(t, filepath.Join(mnt, "d"), reference)
	unix.Sync()
	for name := range rotten {
		corrupt(t, images[0], filepath.Join(mnt, "d", name))
	}
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
		t.Fatalf("drop caches: %v", err)
	}

	for name := range rotten {
		if _, err := Stat(filepath.Join(mnt, "d"), name); !errors.Is(err, unix.EIO) {
			t.Fatalf("Stat of corrupt %s: %v, want EIO", name, err)
		}
	}
	scratch := t.TempDir()
	results, err := TestFiles(context.Background(), filepath.Join(mnt, "d"), reference, scratch, []string{"rotten-small.bin", "rotten-big.bin", "fine.bin"})
	if err != nil {
		t.Fatal(err)
	}
	var ms []Mismatch
	for _, r := range results {
		ms = append(ms, r.Mismatches...)
	}
	want := [][2]string{{"rotten-big.bin", "read"}, {"rotten-small.bin", "read"}}
	assertChecks(t, ms, want)
	r, err := CompareTrees(context.Background(), reference, filepath.Join(mnt, "d"), nil)
	if err != nil {
		t.Fatal(err)
	}
	assertChecks(t, r.Mismatches, want)
}

// corrupt overwrites bytes of p's first extent in every mirror in the image,
// then drops p's cached pages so the next read sees the damage.
func corrupt(t *testing.T, image, p string) {
	t.Helper()
	logical := firstExtent(t, p)
	out, err := exec.Command("btrfs-map-logical", "-l", strconv.FormatUint(logical, 10), image).CombinedOutput()
	if err != nil {
		t.Fatalf("btrfs-map-logical: %v: %s", err, out)
	}
	mirrors := regexp.MustCompile(`physical (\d+)`).FindAllStringSubmatch(string(out), -1)
	if len(mirrors) == 0 {
		t.Fatalf("btrfs-map-logical printed no mapping: %s", out)
	}
	img, err := os.OpenFile(image, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	for _, m := range mirrors {
		off, _ := strconv.ParseInt(m[1], 10, 64)
		if _, err := img.WriteAt([]byte("bit rot was here"), off+100); err != nil {
			t.Fatal(err)
		}
	}
	if err := img.Sync(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
}
