package sample

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/verify/internal/testtree"
)

// mknodFiles creates count empty regular files under dir, spread over
// subdirectories of 1000, with one syscall each.
func mknodFiles(t testing.TB, dir string, count int) {
	t.Helper()
	for i := range count {
		sub := filepath.Join(dir, fmt.Sprintf("s%03d", i/1000))
		if i%1000 == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := unix.Mknod(filepath.Join(sub, fmt.Sprintf("f%04d", i%1000)), unix.S_IFREG|0o644, 0); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSampleDeterministicAndCount(t *testing.T) {
	root := t.TempDir()
	count, err := sandbox.FillSampleData(root, 7)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Paths(root, 8, 42)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Paths(root, 8, 42)
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different samples:\n%v\n%v", a, b)
	}
	if len(a) != 8 || !slices.IsSorted(a) {
		t.Errorf("sample %v: want 8 sorted rels", a)
	}
	all, err := Paths(root, 10_000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != count {
		t.Errorf("n > files: got %d rels, tree has %d files and symlinks", len(all), count)
	}
	for _, rel := range all {
		fi, err := os.Lstat(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		if kind := fi.Mode().Type(); kind != 0 && kind != fs.ModeSymlink {
			t.Errorf("sampled %s, a %s", rel, kind)
		}
	}
	differ := false
	for seed := range int64(10) {
		s, _ := Paths(root, 8, seed)
		differ = differ || !slices.Equal(s, a)
	}
	if !differ {
		t.Error("ten seeds all gave the same sample")
	}
	if s, err := Paths(root, 0, 1); s != nil || err != nil {
		t.Errorf("n=0: %v, %v", s, err)
	}
}

func TestSampleSpreadAndLargest(t *testing.T) {
	root := testtree.FastTempDir(t)
	sizes := map[string]int{"tiny": 1, "small": 10, "mid": 300, "huge": 10_000, "few": 3}
	for dir, n := range sizes {
		mknodFiles(t, filepath.Join(root, dir), n)
	}
	largest := "huge/s004/f0123"
	if err := os.Truncate(filepath.Join(root, largest), 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "at-root"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for seed := range int64(20) {
		for _, n := range []int{6, 20} {
			s, err := Paths(root, n, seed)
			if err != nil {
				t.Fatal(err)
			}
			if len(s) != n {
				t.Fatalf("seed %d n %d: %d rels", seed, n, len(s))
			}
			if !slices.Contains(s, largest) {
				t.Errorf("seed %d n %d: largest file missing from %v", seed, n, s)
			}
			for stratum := range sizes {
				if !slices.ContainsFunc(s, func(rel string) bool { return strings.HasPrefix(rel, stratum+"/") }) {
					t.Errorf("seed %d n %d: no pick from %s/ in %v", seed, n, stratum, s)
				}
			}
			if !slices.Contains(s, "at-root") {
				t.Errorf("seed %d n %d: root stratum unrepresented in %v", seed, n, s)
			}
		}
	}
}

func TestSampleNeverFollowsSymlinks(t *testing.T) {
	dir := t.TempDir()
	root, outside := filepath.Join(dir, "root"), filepath.Join(dir, "outside")
	mknodFiles(t, outside, 50)
	mknodFiles(t, filepath.Join(root, "real"), 5)
	symlink(t, outside, filepath.Join(root, "real/out"))
	symlink(t, "..", filepath.Join(root, "real/loop"))
	symlink(t, outside, filepath.Join(root, "top-link"))
	s, err := Paths(root, 1000, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"real/loop", "real/out", "real/s000/f0000", "real/s000/f0001", "real/s000/f0002",
		"real/s000/f0003", "real/s000/f0004", "top-link"}
	if !slices.Equal(s, want) {
		t.Errorf("sample %v, want %v", s, want)
	}
}

// TestSampleReportsUnreadableDirs runs Paths without root's privileges
// over a tree where one directory is root's own and closed (mode 0700):
// the directory is reported by name and the rest still sampled.
func TestSampleReportsUnreadableDirs(t *testing.T) {
	root := testtree.OpenTempDir(t)
	mknodFiles(t, filepath.Join(root, "ok"), 3)
	if err := os.Mkdir(filepath.Join(root, "closed"), 0o700); err != nil {
		t.Fatal(err)
	}
	mknodFiles(t, filepath.Join(root, "closed"), 2)
	var s []string
	var err error
	testtree.AsNobody(t, func() { s, err = Paths(root, 10, 1) })
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "open closed:") {
		t.Fatalf("unlistable directory not reported: %v", err)
	}
	if len(s) != 3 {
		t.Errorf("readable part not sampled: %v", s)
	}
}

// TestSampleBeyondPathMax is issue 14 item 4 for sampling: files whose
// path is longer than PATH_MAX are sampled like any other.
func TestSampleBeyondPathMax(t *testing.T) {
	root := t.TempDir()
	mknodFiles(t, filepath.Join(root, "ok"), 3)
	deepRel := testtree.MakeDeepTree(t, root, "deep", unix.PathMax+300, time.Time{})
	s, err := Paths(root, 10, 1)
	if err != nil {
		t.Fatalf("sample: %.300v", err)
	}
	if len(s) != 4 || !slices.Contains(s, deepRel) {
		t.Errorf("sampled %d rels; the deep file (%d bytes of path) is missing", len(s), len(deepRel))
	}
}

// peakLiveHeap runs f and returns the largest live heap seen after any GC
// during it, less the live heap before.
func peakLiveHeap(f func()) uint64 {
	defer debug.SetGCPercent(debug.SetGCPercent(10)) // many GCs: many samples
	runtime.GC()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()
	f()
	runtime.GC()
	close(done)
	metrics.Read(sample)
	peak.Store(max(peak.Load(), sample[0].Value.Uint64()))
	return peak.Load() - min(base, peak.Load())
}

func TestSampleMemoryIndependentOfTreeSize(t *testing.T) {
	small, large := 20_000, 200_000
	if testing.Short() {
		small, large = 10_000, 100_000
	}
	peaks := map[int]uint64{}
	for _, files := range []int{small, large} {
		root := testtree.FastTempDir(t)
		for i := range 5 { // five strata of equal size
			mknodFiles(t, filepath.Join(root, fmt.Sprintf("top%d", i)), files/5)
		}
		// Garbage allocated during a GC cycle counts as live for it, so
		// single runs are noisy upwards; retention would show in all three.
		peaks[files] = ^uint64(0)
		for range 3 {
			var s []string
			var err error
			peaks[files] = min(peaks[files], peakLiveHeap(func() { s, err = Paths(root, 50, 1) }))
			if err != nil || len(s) != 50 {
				t.Fatalf("%d files: %d rels, %v", files, len(s), err)
			}
		}
		os.RemoveAll(root)
	}
	t.Logf("peak live heap growth: %d files %d B, %d files %d B", small, peaks[small], large, peaks[large])
	// Retaining one rel per file ("top0/s000/f0000": 16 B of string
	// header + 16 B of bytes) would add >= 2.8 MiB for 90,000+ more files.
	if peaks[large] > peaks[small]+2<<20 {
		t.Errorf("live heap grows with the tree: %d files %d B, %d files %d B", small, peaks[small], large, peaks[large])
	}
}

// TestSampleHugeSizeAllocatesByTree is issue 14 item 1: a sampleSize of
// two trillion once made every apply die out of memory at its first test.
// Memory must follow the tree, not the number requested.
func TestSampleHugeSizeAllocatesByTree(t *testing.T) {
	root := t.TempDir()
	mknodFiles(t, filepath.Join(root, "a"), 300)
	mknodFiles(t, filepath.Join(root, "b"), 200)
	var s []string
	var err error
	peak := peakLiveHeap(func() { s, err = Paths(root, 2_000_000_000_000, 1) })
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 500 {
		t.Errorf("sampled %d of 500 files", len(s))
	}
	if peak > 8<<20 {
		t.Errorf("sampling 500 files with n = 2e12 held %d B live", peak)
	}
}
