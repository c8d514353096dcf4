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

// maxPending bounds the files held while their directory's own name is not
// known yet (a directory moved into one created after it has the lower
// inode number, so the btree lists its files first). Past it, the sample
// falls back to the directory walk rather than let memory follow the tree.
const maxPending = 1 << 16

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

type pendingFile struct {
	parent uint64
	name   string
	size   int64
}

// scanTree feeds the reservoirs from the btree of the subvolume whose root
// directory is open as rootFd. It yields the same sample as the directory
// walk: same candidates, same keys, same strata (each top-level directory,
// numbered by its inode instead of by listing order, which the result does
// not depend on). Memory follows the number of directories and the sample,
// not the number of files.
func (s *sampler) scanTree(rootFd int) error {
	dirs := map[uint64]*treeDir{treesearch.RootIno: {resolved: true, prefix: s.prefix("")}}
	strata := map[int]*boundedHeap{0: s.rootFs}
	var pending []pendingFile
	offerTo := func(d *treeDir, name []byte, size int64) {
		h := strata[d.stratum]
		if h == nil {
			h = newHeap(s.n, byKey)
			strata[d.stratum] = h
		}
		offer(s, h, candidate{key: keyAfter(d.prefix, name), size: size, stratum: d.stratum}, d.rel, name)
	}
	err := treesearch.Scan(rootFd, func(ino treesearch.Inode, refs []treesearch.Ref) error {
		var size int64
		switch ino.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			// A directory has one name; the root's is "..", itself.
			if len(refs) > 0 && ino.Ino != treesearch.RootIno {
				dirs[ino.Ino] = &treeDir{ino: ino.Ino, parent: refs[0].Parent, name: string(refs[0].Name)}
			}
			return nil
		case unix.S_IFREG:
			size = ino.Size
		case unix.S_IFLNK: // verified by its target text, like the walk: size 0
		default:
			return nil
		}
		for _, ref := range refs { // a hard link is a candidate under each name
			if d := resolve(dirs, ref.Parent, s); d != nil {
				offerTo(d, ref.Name, size)
				continue
			}
			if len(pending) == maxPending {
				return errFallBack
			}
			pending = append(pending, pendingFile{ref.Parent, string(ref.Name), size})
		}
		return nil
	})
	switch {
	case errors.Is(err, treesearch.ErrNotReadOnlySubvolume), errors.Is(err, unix.EPERM),
		errors.Is(err, unix.ENOTTY), errors.Is(err, unix.EINVAL), errors.Is(err, errFallBack):
		return errFallBack
	case err != nil:
		return err
	}
	for _, p := range pending {
		// Still unknown: the file hangs below an unlinked directory that is
		// not reachable from the root, so the walk would not see it either.
		if d := resolve(dirs, p.parent, s); d != nil {
			offerTo(d, []byte(p.name), p.size)
		}
	}
	for _, h := range strata {
		s.flush(h)
	}
	return nil
}

// resolve works out directory ino's rel, stratum and hash prefix from its
// ancestors, or returns nil while one of them is still unknown.
func resolve(dirs map[uint64]*treeDir, ino uint64, s *sampler) *treeDir {
	var chain []*treeDir // ino and its unresolved ancestors, nearest first
	for d := dirs[ino]; d == nil || !d.resolved; d = dirs[d.parent] {
		if d == nil || len(chain) > len(dirs) { // unknown yet, or a cycle
			return nil
		}
		chain = append(chain, d)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		c, parent := chain[i], dirs[chain[i].parent]
		c.rel, c.stratum = parent.rel+"/"+c.name, parent.stratum
		if c.parent == treesearch.RootIno { // a top-level directory: a stratum of its own
			c.rel, c.stratum = c.name, int(c.ino)
		}
		c.prefix = fnvAdd(fnvAdd(parent.prefix, c.name), "/")
		c.resolved = true
	}
	return dirs[ino]
}

// reset empties the reservoirs after a btree scan gave up midway.
func (s *sampler) reset() {
	s.rootFs.items = s.rootFs.items[:0]
	s.current.items = s.current.items[:0]
	s.large.items = s.large.items[:0]
	s.picked, s.errs, s.strata = nil, nil, 0
}
