// Command slicebench is the Go side of bench/coverage-slices.sh: it times
// choosing a coverage slice and verifying one.
//
//	slicebench select ROOT K N          prints "<files in slice> <seconds>"
//	slicebench compare WANT GOT K N     prints "<bytes> <seconds> <mismatches>"
//	slicebench link SRC DST K N         hard-links slice K of N of SRC into DST
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/drsync/drsync/verify"
	"github.com/drsync/drsync/verify/coverage"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "slicebench:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 4 {
		return fmt.Errorf("usage: select ROOT K N | compare WANT GOT K N | link SRC DST K N")
	}
	switch args[0] {
	case "select":
		start := time.Now()
		rels, err := coverage.Slice(args[1], atoi(args[2]), atoi(args[3]))
		if err != nil {
			return err
		}
		fmt.Printf("%d %.3f\n", len(rels), time.Since(start).Seconds())
	case "compare":
		if len(args) != 5 {
			return fmt.Errorf("compare WANT GOT K N")
		}
		start := time.Now()
		rels, err := coverage.Slice(args[1], atoi(args[3]), atoi(args[4]))
		if err != nil {
			return err
		}
		r, err := verify.CompareFiles(context.Background(), args[1], args[2], rels, nil)
		if err != nil {
			return err
		}
		fmt.Printf("%d %.3f %d\n", r.Bytes, time.Since(start).Seconds(), len(r.Mismatches))
	case "link":
		if len(args) != 5 {
			return fmt.Errorf("link SRC DST K N")
		}
		rels, err := coverage.Slice(args[1], atoi(args[3]), atoi(args[4]))
		if err != nil {
			return err
		}
		for _, rel := range rels {
			dst := filepath.Join(args[2], rel)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := os.Link(filepath.Join(args[1], rel), dst); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unknown command %q", args[0])
	}
	return nil
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "slicebench:", err)
		os.Exit(2)
	}
	return n
}
