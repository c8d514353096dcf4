// Command verifybench is the Go side of bench/verify-vs-diff.sh: it builds
// the benchmark trees quickly and times verify.CompareTrees and sample.Paths.
//
//	verifybench mktree DIR FILES TOTAL_MIB   mixed-size random files
//	verifybench mkfiles DIR FILES            empty files, 1000 per directory
//	verifybench compare WANT GOT             prints "<bytes> <seconds> <mismatches>"
//	verifybench sample ROOT N                prints "<picked> <seconds>"
package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/verify"
	"github.com/drsync/drsync/verify/sample"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "verifybench:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 3 {
		return fmt.Errorf("usage: mktree DIR FILES TOTAL_MIB | mkfiles DIR FILES | compare WANT GOT | sample ROOT N")
	}
	switch args[0] {
	case "mktree":
		if len(args) != 4 {
			return fmt.Errorf("mktree DIR FILES TOTAL_MIB")
		}
		return mktree(args[1], atoi(args[2]), int64(atoi(args[3]))<<20)
	case "mkfiles":
		return mkfiles(args[1], atoi(args[2]))
	case "compare":
		start := time.Now()
		r, err := verify.CompareTrees(context.Background(), args[1], args[2], nil)
		if err != nil {
			return err
		}
		fmt.Printf("%d %.3f %d\n", r.Bytes, time.Since(start).Seconds(), len(r.Mismatches))
	case "sample":
		start := time.Now()
		rels, err := sample.Paths(args[1], atoi(args[2]), 1)
		if err != nil {
			return err
		}
		fmt.Printf("%d %.3f\n", len(rels), time.Since(start).Seconds())
	default:
		return fmt.Errorf("unknown command %q", args[0])
	}
	return nil
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "verifybench:", err)
		os.Exit(2)
	}
	return n
}

// mktree writes files whose sizes mimic a home directory: 90% small (up to
// 32 KiB), 9.5% medium (up to 1 MiB), 0.5% large; scaled so the sizes add up
// to total. Content is random so nothing compresses or dedups.
func mktree(dir string, files int, total int64) error {
	rng := rand.New(rand.NewPCG(1, 2))
	weights := make([]float64, files)
	var sum float64
	for i := range weights {
		switch r := rng.Float64(); {
		case r < 0.90:
			weights[i] = rng.Float64() * 32
		case r < 0.995:
			weights[i] = rng.Float64() * 1024
		default:
			weights[i] = 4096 + rng.Float64()*8192
		}
		sum += weights[i]
	}
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], 42)
	stream := rand.NewChaCha8(key)
	buf := make([]byte, 1<<20)
	for i, w := range weights {
		p := filepath.Join(dir, fmt.Sprintf("d%02d/s%03d/f%05d.bin", i%20, i/1000, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		for left := int64(w / sum * float64(total)); left > 0; {
			chunk := buf[:min(left, int64(len(buf)))]
			_, _ = stream.Read(chunk)
			if _, err := f.Write(chunk); err != nil {
				f.Close()
				return err
			}
			left -= int64(len(chunk))
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// mkfiles creates empty files with one mknod each, 1000 per directory, under
// five top-level directories.
func mkfiles(dir string, files int) error {
	for i := range files {
		sub := filepath.Join(dir, fmt.Sprintf("top%d/s%04d", i%5, i/5000))
		if i%5000 < 5 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return err
			}
		}
		if err := unix.Mknod(filepath.Join(sub, fmt.Sprintf("f%07d", i)), unix.S_IFREG|0o644, 0); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
	}
	return nil
}
