package sample

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/providers/btrfs/treesearch"
)

// errFallBack means the btree cannot be read here (not the root of a
// read-only btrfs subvolume, no CAP_SYS_ADMIN, an old kernel): walk the
// directories instead.
var errFallBack = errors.New("walk the directories instead")

// maxWorkers bounds the goroutines reading the btree, each with a 1 MiB
// search buffer of its own. Two halve a scan's time on two CPUs; more than
// four CPUs have not been measured.
const maxWorkers = 4

// treeDir is a directory seen in the btree. Its rel, stratum and hash prefix
// are worked out when its first file is offered, once its ancestors are
// known.
type treeDir struct {
	ino      uint64
	parent   uint64
	name     string
	resolved bool
	rel      string
	prefix   uint64
	stratum  int
}

// treeWorker is one scanning goroutine's share of the sample: the
// directories it has met and reservoirs of its own, merged into the
// sampler's once every worker is done.
type treeWorker struct {
	rootFd int
	s      *sampler // n, seed and the largest files' reservoir
	dirs   map[uint64]*treeDir
	strata map[int]*boundedHeap
	last   *treeDir // the directory of the previous file: siblings come in a row
}

// scanTree feeds the reservoirs from the btree of the subvolume whose root
// directory is open as rootFd. It yields the same sample as the directory
// walk: same candidates, same keys, same strata (each top-level directory,
// numbered by its inode instead of by listing order, which the result does
// not depend on). Memory follows the number of directories and the sample,
// not the number of files.
//
// The scan is split by inode number over workerCount goroutines (one per
// CPU): the kernel copying every item out of the btree is most of its
// time. Reservoirs keep the best candidates of a total order, so merging
// the workers' ones gives exactly the sample one worker would have kept.
func (s *sampler) scanTree(rootFd, workerCount int) error {
	workers := make([]*treeWorker, workerCount)
	for i := range workers {
		ws := &sampler{n: s.n, seed: s.seed, large: newHeap(s.large.max, bySize)}
		workers[i] = &treeWorker{rootFd: rootFd, s: ws,
			dirs:   map[uint64]*treeDir{treesearch.RootIno: {resolved: true, prefix: s.prefix("")}},
			strata: map[int]*boundedHeap{}}
	}
	err := treesearch.ScanParallel(rootFd, len(workers), func(i int, ino treesearch.Inode, refs []treesearch.Ref) error {
		return workers[i].inode(ino, refs)
	})
	switch {
	case errors.Is(err, treesearch.ErrNotReadOnlySubvolume), errors.Is(err, unix.EPERM),
		errors.Is(err, unix.ENOTTY), errors.Is(err, unix.EINVAL):
		return errFallBack
	case err != nil:
		return err
	}
	strata := map[int]*boundedHeap{0: s.rootFs}
	for _, w := range workers {
		for id, h := range w.strata {
			if strata[id] == nil {
				strata[id] = newHeap(s.n, byKey)
			}
			for _, c := range h.items {
				strata[id].keep(c)
			}
		}
		for _, c := range w.s.large.items {
			s.large.keep(c)
		}
	}
	for _, h := range strata {
		s.flush(h)
	}
	return nil
}

// inode offers a regular file's or symlink's names to the worker's
// reservoirs, and notes a directory's name for the files below it.
func (w *treeWorker) inode(ino treesearch.Inode, refs []treesearch.Ref) error {
	var size int64
	switch ino.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		// A directory has one name; the root's is "..", itself. It may be
		// known already, looked up for a file that came first.
		if _, known := w.dirs[ino.Ino]; len(refs) > 0 && !known {
			w.dirs[ino.Ino] = &treeDir{ino: ino.Ino, parent: refs[0].Parent, name: string(refs[0].Name)}
		}
		return nil
	case unix.S_IFREG:
		size = ino.Size
	case unix.S_IFLNK: // verified by its target text, like the walk: size 0
	default:
		return nil
	}
	for _, ref := range refs { // a hard link is a candidate under each name
		d, err := w.resolve(ref.Parent)
		if err != nil {
			return err
		}
		if d == nil {
			// Below an unlinked directory, not reachable from the root:
			// the walk does not see it either.
			continue
		}
		h := w.strata[d.stratum]
		if h == nil {
			h = newHeap(w.s.n, byKey)
			w.strata[d.stratum] = h
		}
		offer(w.s, h, candidate{key: keyAfter(d.prefix, ref.Name), size: size, stratum: d.stratum}, d.rel, ref.Name)
	}
	return nil
}

// resolve works out directory ino's rel, stratum and hash prefix from its
// ancestors. An ancestor not met yet (in another worker's range of inodes,
// or moved below a newer directory) is looked up in the btree. It returns
// nil for a directory not reachable from the root.
func (w *treeWorker) resolve(ino uint64) (*treeDir, error) {
	if w.last != nil && w.last.ino == ino {
		return w.last, nil
	}
	var chain []*treeDir // ino and its unresolved ancestors, nearest first
	for next := ino; ; {
		d := w.dirs[next]
		if d == nil {
			ref, ok, err := treesearch.DirRef(w.rootFd, next)
			if err != nil || !ok {
				return nil, err
			}
			d = &treeDir{ino: next, parent: ref.Parent, name: string(ref.Name)}
			w.dirs[next] = d
		}
		if d.resolved {
			break
		}
		if len(chain) > len(w.dirs) { // a cycle: a damaged tree
			return nil, nil
		}
		chain = append(chain, d)
		next = d.parent
	}
	for i := len(chain) - 1; i >= 0; i-- {
		c, parent := chain[i], w.dirs[chain[i].parent]
		c.rel, c.stratum = parent.rel+"/"+c.name, parent.stratum
		if c.parent == treesearch.RootIno { // a top-level directory: a stratum of its own
			c.rel, c.stratum = c.name, int(c.ino)
		}
		c.prefix = fnvAdd(fnvAdd(parent.prefix, c.name), "/")
		c.resolved = true
	}
	w.last = w.dirs[ino]
	return w.last, nil
}
