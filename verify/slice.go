package verify

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sync"

	"golang.org/x/sys/unix"
)

// CompareFiles compares each of rels (sorted, as coverage.Slice returns them)
// between the trees want and got exactly as CompareTrees compares a file:
// type, size, content byte for byte, mode, owner, mtime, xattrs, symlink
// target and link count. Each file is read once per side. A rel absent
// from got is "missing", absent from want "extra"; a read error is a
// "read" mismatch on its side. Parents are opened beneath each root with
// symlinks refused, once per directory, and the files compared by
// GOMAXPROCS*2 workers. Cancelling ctx returns its error and the partial
// report.
func CompareFiles(ctx context.Context, want, got string, rels []string, progress func(bytes int64)) (TreeReport, error) {
	t := &treeCmp{ctx: ctx, want: want, got: got, progress: progress}
	var wg sync.WaitGroup
	jobs := compareWorkers(ctx, &wg, t.fileEntry)
	var dir *dirPair
	var dirFailed *Mismatch
	dirRel := "\x00" // no directory open yet
	for _, rel := range rels {
		if ctx.Err() != nil {
			break
		}
		if err := checkRel(rel); err != nil {
			t.add(Mismatch{Rel: rel, Check: "read", Want: err.Error()})
			continue
		}
		if d := path.Dir(rel); d != dirRel {
			dir.release()
			dir, dirFailed = t.openPair(d)
			dirRel = d
		}
		if dirFailed != nil {
			m := *dirFailed
			m.Rel = rel
			t.add(m)
			continue
		}
		if !t.send(jobs, job{dir: dir.hold(), name: path.Base(rel), rel: rel}) {
			break
		}
	}
	dir.release()
	close(jobs)
	wg.Wait()
	sortMismatches(t.report.Mismatches)
	if err := ctx.Err(); err != nil {
		return t.report, fmt.Errorf("compare files: %w", err)
	}
	return t.report, nil
}

// openPair opens the directory rel beneath both roots. When a side lacks
// it or cannot open it, it returns the mismatch each file in it gets
// instead: missing (or extra), or a read error on the side that failed.
func (t *treeCmp) openPair(rel string) (*dirPair, *Mismatch) {
	var fds [2]int
	var errs [2]error
	for i, root := range []string{t.want, t.got} {
		fds[i], errs[i] = openBeneath(root, rel)
	}
	if errs[0] == nil && errs[1] == nil {
		return newDirPair(fds), nil
	}
	for i := range fds {
		if errs[i] == nil {
			unix.Close(fds[i])
		}
	}
	switch {
	case errors.Is(errs[1], unix.ENOENT) && errs[0] == nil:
		return nil, &Mismatch{Check: "missing"}
	case errors.Is(errs[0], unix.ENOENT) && errs[1] == nil:
		return nil, &Mismatch{Check: "extra"}
	}
	m := readMismatch("", errs[0], errs[1])
	return nil, &m
}

// fileEntry compares one rel whose parent is open on both sides: a name
// absent on one side is missing or extra, otherwise entry compares it.
func (t *treeCmp) fileEntry(j job, bufs [2][]byte) {
	var present [2]bool
	for i := range present {
		var st unix.Stat_t
		err := unix.Fstatat(j.dir.fds[i], j.name, &st, unix.AT_SYMLINK_NOFOLLOW)
		present[i] = !errors.Is(err, unix.ENOENT)
	}
	switch {
	case present[0] && !present[1]:
		t.add(Mismatch{Rel: j.rel, Check: "missing"})
	case !present[0] && present[1]:
		t.add(Mismatch{Rel: j.rel, Check: "extra"})
	case !present[0] && !present[1]:
		t.add(Mismatch{Rel: j.rel, Check: "missing"})
	default:
		t.entry(j, bufs)
	}
}
