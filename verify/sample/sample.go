// Package sample picks the files a restore test proves: a stratified,
// seeded random sample of a tree's regular files and symlinks, read from a
// btrfs subvolume's own btree where it can be, walked otherwise.
package sample

import (
	"container/heap"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sort"

	"golang.org/x/sys/unix"
)

// dirChunk bounds how many directory entries are held at once per level, so
// a directory of a million files costs no more memory than one of a hundred.
const dirChunk = 256

// MaxSize bounds a restore test's sample (the schema's sampleSize and
// `drsync test --sample-size` enforce it). Every sampled path is held in
// memory, restored into scratch and journaled, so a sample of a million
// files would cost hundreds of MiB and hours; a proof of every file is what
// a drill is for.
const MaxSize = 100_000

// Paths picks min(n, candidates) paths under root in one walk, holding
// O(min(n, candidates)) of them however large the tree or n. Candidates are regular files and
// symlinks (a symlink is verified by its target text, and it is restored as
// a symlink); directories, devices, fifos and sockets are not, and symlinks
// are never followed.
//
// The sample is stratified: every top-level directory is a stratum, and the
// files directly at root are one more. Strata share the sample equally,
// round-robin, a small stratum's unused share going to the others, so with
// n >= the number of strata each gets at least one pick, whatever their
// sizes. Within a stratum the picks are a uniform random subset. Large files
// are where most bytes (and most bit rot) live, so max(1, n/10) picks are
// reserved for the largest files of the tree; they count towards their
// strata's shares.
//
// Randomness comes from hashing the seed with each path, so the sample
// depends only on the seed and the tree, not on the order directories list
// nor on how the tree is read: the root of a read-only btrfs subvolume (a
// snapshot or replica) is read from its own btree, sizes included, in a few
// large ioctls; anything else is walked with getdents and one fstatat per
// regular file.
// Unreadable directories do not stop the walk: the sample of the rest is
// returned together with an error naming each of them. Rels are sorted.
func Paths(root string, n int, seed int64) ([]string, error) {
	return sample(root, n, seed, true)
}

// sample is Paths; with readTree false it always walks the directories,
// which tests compare the btree scan with.
func sample(root string, n int, seed int64, readTree bool) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	f, err := os.Open(root)
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	defer f.Close()
	s := newSampler(n, seed)
	// A btrfs subvolume (what drsync samples: snapshots and replicas) lists
	// every inode's size in its own btree, read in a few large ioctls
	// instead of one stat per file; anything else is walked.
	err = errFallBack
	if readTree {
		err = s.scanTree(int(f.Fd()), min(runtime.GOMAXPROCS(0), maxWorkers))
	}
	if err != nil {
		if !errors.Is(err, errFallBack) {
			return nil, fmt.Errorf("sample %s: %w", root, err)
		}
		s.walkRoot(f)
	}
	rels := s.result()
	if err := errors.Join(s.errs...); err != nil {
		return rels, fmt.Errorf("sample %s: %w", root, err)
	}
	return rels, nil
}

// walkRoot walks the tree with getdents, one stratum at a time, stat-ing
// each regular file relative to its directory's fd.
func (s *sampler) walkRoot(f *os.File) {
	s.readDir(f, "", func(e fs.DirEntry, rel string) {
		if !e.IsDir() {
			s.visit(int(f.Fd()), e, "", e.Name(), 0)
			return
		}
		s.strata++
		s.current.items = s.current.items[:0]
		s.walk(int(f.Fd()), e.Name(), rel, s.strata)
		s.flush(s.current)
	})
	s.flush(s.rootFs)
}

func newSampler(n int, seed int64) *sampler {
	return &sampler{
		n:       n,
		seed:    uint64(seed),
		rootFs:  newHeap(n, byKey),
		current: newHeap(n, byKey),
		large:   newHeap(max(1, n/10), bySize),
	}
}

type candidate struct {
	rel     string
	key     uint64 // the random order: hash of seed and rel
	size    int64
	stratum int
	rank    int // position by key within its stratum, set when the stratum is done
}

type sampler struct {
	n       int
	seed    uint64
	strata  int
	rootFs  *boundedHeap // stratum 0, files directly at root: open for the whole walk
	current *boundedHeap // the top-level directory being walked
	large   *boundedHeap
	picked  []candidate // best n of the finished strata by (rank, key)
	errs    []error
}

// readDir calls fn for each entry of the open directory f (rel rel), a
// chunk at a time; errors are recorded, not fatal.
func (s *sampler) readDir(f *os.File, rel string, fn func(e fs.DirEntry, rel string)) {
	for {
		ents, err := f.ReadDir(dirChunk)
		for _, e := range ents {
			erel := e.Name()
			if rel != "" {
				erel = rel + "/" + erel
			}
			fn(e, erel)
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			s.errs = append(s.errs, &fs.PathError{Op: "readdir", Path: rel, Err: err})
			return
		}
	}
}

// walk visits the subtree name (rel) of the directory open as parent,
// within one stratum. Directories are opened relative to their parent's
// fd, never by path, so any depth works (paths beyond PATH_MAX included)
// and a directory swapped for a symlink is refused, not followed.
func (s *sampler) walk(parent int, name, rel string, stratum int) {
	fd, err := unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		s.errs = append(s.errs, &fs.PathError{Op: "open", Path: rel, Err: err})
		return
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	s.readDir(f, rel, func(e fs.DirEntry, erel string) {
		if e.IsDir() { // from d_type: a symlink to a directory is not one
			s.walk(fd, e.Name(), erel, stratum)
			return
		}
		s.visit(fd, e, rel, e.Name(), stratum)
	})
}

// visit offers one non-directory entry of the directory open as dirfd to
// the reservoirs. The size comes from fstatat relative to dirfd, which
// spares the kernel resolving the whole path for every file.
func (s *sampler) visit(dirfd int, e fs.DirEntry, dirRel, name string, stratum int) {
	var size int64
	switch {
	case e.Type().IsRegular():
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			s.errs = append(s.errs, &fs.PathError{Op: "lstat", Path: path.Join(dirRel, name), Err: err})
			return
		}
		size = st.Size
	case e.Type()&fs.ModeSymlink == 0:
		return // devices, fifos, sockets: nothing to restore-test
	}
	h := s.current
	if stratum == 0 {
		h = s.rootFs
	}
	offer(s, h, candidate{key: keyAfter(s.prefix(dirRel), name), size: size, stratum: stratum}, dirRel, name)
}

// offer hands candidate c (rel not yet set) to the stratum's reservoir h
// and to the largest files' one. The rel string is only built for
// candidates a reservoir keeps: the btree scan passes names as the bytes of
// its search buffer instead of allocating a string for each of millions of
// files (peak RSS at 2,000,000 files 7.3 -> 4.1 MiB).
func offer[S string | []byte](s *sampler, h *boundedHeap, c candidate, dirRel string, name S) {
	keep, keepLarge := h.wants(c), s.large.wants(c)
	if !keep && !keepLarge {
		return
	}
	c.rel = string(name)
	if dirRel != "" {
		c.rel = dirRel + "/" + string(name)
	}
	if keep {
		h.offer(c)
	}
	if keepLarge {
		s.large.offer(c)
	}
}

// The random order of a candidate is a hash of seed and rel (FNV-1a, then
// a splitmix64 finalizer so that similar paths get unrelated keys). FNV is
// streamed, so a directory's prefix state is computed once for all its
// entries: prefix(dirRel) has hashed "dirRel/", keyAfter adds the name.
func (s *sampler) prefix(dirRel string) uint64 {
	h := uint64(14695981039346656037) ^ s.seed
	if dirRel != "" {
		h = fnvAdd(fnvAdd(h, dirRel), "/")
	}
	return h
}

func keyAfter[S string | []byte](prefix uint64, name S) uint64 {
	h := fnvAdd(prefix, name)
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

func fnvAdd[S string | []byte](h uint64, str S) uint64 {
	for i := 0; i < len(str); i++ {
		h = (h ^ uint64(str[i])) * 1099511628211
	}
	return h
}

// flush ranks a finished stratum's candidates and merges them into picked.
// A candidate dropped here can never come back: ranks only grow as a
// stratum gains members, and a finished stratum gains none.
func (s *sampler) flush(h *boundedHeap) {
	items := append([]candidate(nil), h.items...)
	sort.Slice(items, func(i, j int) bool { return items[i].key < items[j].key })
	for i := range items {
		items[i].rank = i
	}
	s.picked = append(s.picked, items...)
	sort.Slice(s.picked, func(i, j int) bool { return roundRobin(s.picked[i], s.picked[j]) })
	s.picked = s.picked[:min(len(s.picked), s.n)]
}

func roundRobin(a, b candidate) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.key < b.key
}

// result takes the largest files first, then fills up round-robin across
// strata, counting the large picks as their strata's first turns.
func (s *sampler) result() []string {
	chosen := map[string]bool{}
	taken := map[int]int{}
	var rels []string
	for _, c := range s.large.items {
		chosen[c.rel] = true
		taken[c.stratum]++
		rels = append(rels, c.rel)
	}
	rest := make([]candidate, 0, len(s.picked))
	for _, c := range s.picked { // ordered by rank, so per-stratum order is kept
		if !chosen[c.rel] {
			c.rank = taken[c.stratum]
			taken[c.stratum]++
			rest = append(rest, c)
		}
	}
	sort.Slice(rest, func(i, j int) bool { return roundRobin(rest[i], rest[j]) })
	for _, c := range rest[:min(len(rest), s.n-len(rels))] {
		rels = append(rels, c.rel)
	}
	sort.Strings(rels)
	return rels
}

// boundedHeap keeps the best max candidates by better; its root is the
// worst kept one, the first to go.
type boundedHeap struct {
	items  []candidate
	max    int
	better func(a, b candidate) bool
}

// newHeap grows its items as candidates arrive: memory follows what the tree
// holds, never the number requested.
func newHeap(max int, better func(a, b candidate) bool) *boundedHeap {
	return &boundedHeap{max: max, better: better}
}

func byKey(a, b candidate) bool { return a.key < b.key }

func bySize(a, b candidate) bool {
	if a.size != b.size {
		return a.size > b.size
	}
	return a.key < b.key
}

func (h *boundedHeap) wants(c candidate) bool {
	return len(h.items) < h.max || h.better(c, h.items[0])
}

// keep offers c if it is among the best max so far.
func (h *boundedHeap) keep(c candidate) {
	if h.wants(c) {
		h.offer(c)
	}
}

func (h *boundedHeap) offer(c candidate) {
	if len(h.items) < h.max {
		heap.Push(h, c)
		return
	}
	h.items[0] = c
	heap.Fix(h, 0)
}

func (h *boundedHeap) Len() int           { return len(h.items) }
func (h *boundedHeap) Less(i, j int) bool { return h.better(h.items[j], h.items[i]) }
func (h *boundedHeap) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *boundedHeap) Push(x any)         { h.items = append(h.items, x.(candidate)) }
func (h *boundedHeap) Pop() any {
	c := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return c
}
