// Package treesearch reads a btrfs subvolume's own btree with
// BTRFS_IOC_TREE_SEARCH_V2: every inode's size and mode and the names it is
// linked under, in a few large ioctls instead of one stat per file. It is
// its own small package (no reconcile, no schema) so that verify can use it.
package treesearch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"unsafe"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// Request number and layouts mirror linux/btrfs.h and btrfs_tree.h.
const (
	iocTreeSearchV2   = 0xc0709411 // _IOWR(0x94, 17, struct btrfs_ioctl_search_args_v2)
	iocSubvolGetflags = 0x80089419 // _IOR(0x94, 25, __u64)
	subvolRdonly      = 1 << 1     // BTRFS_SUBVOL_RDONLY

	typeInodeItem   = 1  // BTRFS_INODE_ITEM_KEY
	typeInodeRef    = 12 // BTRFS_INODE_REF_KEY: offset is the parent directory
	typeInodeExtref = 13 // BTRFS_INODE_EXTREF_KEY: hard links beyond one leaf's worth of names

	// RootIno is the inode number of every subvolume's root directory
	// (BTRFS_FIRST_FREE_OBJECTID).
	RootIno = 256

	searchHeaderSize = 32  // struct btrfs_ioctl_search_header
	inodeItemSize    = 160 // struct btrfs_inode_item
	superMagic       = 0x9123683e

	// bufSize is the result buffer of one ioctl: about 10,000 inodes a call,
	// a fixed cost however large the tree.
	bufSize = 1 << 20
)

// searchKey is struct btrfs_ioctl_search_key (104 bytes).
type searchKey struct {
	TreeID      uint64
	MinObjectID uint64
	MaxObjectID uint64
	MinOffset   uint64
	MaxOffset   uint64
	MinTransid  uint64
	MaxTransid  uint64
	MinType     uint32
	MaxType     uint32
	NrItems     uint32
	_           uint32
	_           [4]uint64
}

// searchArgsV2 is struct btrfs_ioctl_search_args_v2 followed by its buffer.
type searchArgsV2 struct {
	Key     searchKey
	BufSize uint64
	Buf     [bufSize]byte
}

var (
	_ [unsafe.Sizeof(searchKey{}) - 104]byte
	_ [104 - unsafe.Sizeof(searchKey{})]byte
	_ [unsafe.Offsetof(searchArgsV2{}.Buf) - 112]byte
)

// argsPool keeps search buffers for the next Search: a fresh megabyte per
// call, zeroed and faulted in, cost more than the search itself when
// listing snapshot directories one after another.
var argsPool = sync.Pool{New: func() any { return new(searchArgsV2) }}

// ErrNotReadOnlySubvolume means the directory is not the root of a
// read-only btrfs subvolume. Below a root, the btree holds more than the
// tree below the directory; in a writable subvolume, btrfs keeps recent
// inode updates in memory (delayed items) until the transaction commits,
// so the btree can lag behind what stat says. Walk it another way.
var ErrNotReadOnlySubvolume = errors.New("not the root directory of a read-only btrfs subvolume")

// Inode is what the btree says about one inode.
type Inode struct {
	Ino  uint64
	Mode uint32 // st_mode: type and permission bits
	Size int64
}

// Ref is one name of an inode: Name in the directory inode Parent.
// Name is valid only during the callback.
type Ref struct {
	Parent uint64
	Name   []byte
}

// Key is a btree key: items sort by objectid, then type, then offset.
type Key struct {
	ObjectID uint64
	Type     uint8
	Offset   uint64
}

// Search calls fn with each item of tree treeID (0: the tree of dirfd's
// subvolume) whose key lies between min and max inclusive, in key order,
// a large batch per ioctl. The item aliases a buffer reused by the next
// batch: fn must copy what it keeps. It needs CAP_SYS_ADMIN.
func Search(dirfd int, treeID uint64, min, max Key, fn func(Key, []byte) error) error {
	args := argsPool.Get().(*searchArgsV2)
	defer argsPool.Put(args)
	next := min
	for {
		n, err := args.search(dirfd, treeID, next, max, ^uint32(0))
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		buf := args.Buf[:]
		var last Key
		for range n {
			if len(buf) < searchHeaderSize {
				return fmt.Errorf("tree search: truncated header")
			}
			last = Key{
				ObjectID: binary.LittleEndian.Uint64(buf[8:]),
				Offset:   binary.LittleEndian.Uint64(buf[16:]),
				Type:     uint8(binary.LittleEndian.Uint32(buf[24:])),
			}
			size := int(binary.LittleEndian.Uint32(buf[28:]))
			if len(buf) < searchHeaderSize+size {
				return fmt.Errorf("tree search: truncated item %d/%d", last.ObjectID, last.Type)
			}
			if err := fn(last, buf[searchHeaderSize:searchHeaderSize+size]); err != nil {
				return err
			}
			buf = buf[searchHeaderSize+size:]
		}
		var ok bool
		if next, ok = last.successor(); !ok || max.less(next) {
			return nil
		}
	}
}

// Scan calls fn for every inode of the read-only subvolume (a snapshot)
// whose root directory is open as dirfd, in inode-number order, with all
// its names (several for a hard link, none for the root). It reads the tree
// of dirfd's own subvolume (tree id 0), so nested subvolumes, which btrfs
// send leaves out too, are not entered. Scan needs CAP_SYS_ADMIN; EPERM
// comes back wrapped.
func Scan(dirfd int, fn func(Inode, []Ref) error) error {
	return ScanParallel(dirfd, 1, func(_ int, ino Inode, refs []Ref) error { return fn(ino, refs) })
}

// ScanParallel is Scan split by inode number over up to workers
// goroutines, since copying millions of items out of the btree is kernel
// time that one CPU spends alone (half of a 2,000,000-file scan on two
// CPUs). Worker w calls fn(w, ...) for the inodes of its own range, in
// order; the ranges together cover every inode once. An error from fn or
// the kernel stops every worker, and the first one is returned.
func ScanParallel(dirfd int, workers int, fn func(worker int, ino Inode, refs []Ref) error) error {
	if err := checkReadOnlySubvolumeRoot(dirfd); err != nil {
		return err
	}
	last := ^uint64(0)
	if workers > 1 {
		var err error
		if last, err = lastInode(dirfd); err != nil {
			return err
		}
	}
	ranges := split(RootIno, last, workers)
	g, ctx := errgroup.WithContext(context.Background())
	for w, r := range ranges {
		g.Go(func() error {
			return scanRange(dirfd, r[0], r[1], func(ino Inode, refs []Ref) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				return fn(w, ino, refs)
			})
		})
	}
	return g.Wait()
}

// split cuts the inode numbers lo..hi into at most n ranges of about equal
// span; inode numbers are handed out in sequence, so equal spans hold about
// as many inodes. The last range reaches the end of the key space.
func split(lo, hi uint64, n int) [][2]uint64 {
	span := (hi - lo) / uint64(max(n, 1))
	if n <= 1 || span == 0 {
		return [][2]uint64{{lo, ^uint64(0)}}
	}
	out := make([][2]uint64, n)
	for i := range out {
		out[i] = [2]uint64{lo + uint64(i)*span, lo + uint64(i+1)*span - 1}
	}
	out[n-1][1] = ^uint64(0)
	return out
}

// lastFreeObjectID is BTRFS_LAST_FREE_OBJECTID: inode numbers lie below
// it; above it a subvolume's tree keeps orphan items and caches.
const lastFreeObjectID = ^uint64(0) - 255

// lastInode finds the highest inode number in dirfd's subvolume tree by
// bisection, each probe an ioctl that returns at most one item.
func lastInode(dirfd int) (uint64, error) {
	lo, hi := uint64(RootIno), lastFreeObjectID-1
	for lo < hi {
		mid := lo + (hi-lo)/2 + 1
		found, err := holdsItem(dirfd, Key{ObjectID: mid}, Key{ObjectID: lastFreeObjectID - 1, Type: 255, Offset: ^uint64(0)})
		if err != nil {
			return 0, err
		}
		if found {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, nil
}

// holdsItem reports whether tree 0 of dirfd holds an item between min and max.
func holdsItem(dirfd int, min, max Key) (bool, error) {
	args := argsPool.Get().(*searchArgsV2)
	defer argsPool.Put(args)
	n, err := args.search(dirfd, 0, min, max, 1)
	return n > 0, err
}

// search runs one BTRFS_IOC_TREE_SEARCH_V2 for at most limit items of tree
// treeID between min and max into a's buffer, and returns how many came.
func (a *searchArgsV2) search(dirfd int, treeID uint64, min, max Key, limit uint32) (int, error) {
	a.Key = searchKey{
		TreeID:      treeID,
		MinObjectID: min.ObjectID, MinType: uint32(min.Type), MinOffset: min.Offset,
		MaxObjectID: max.ObjectID, MaxType: uint32(max.Type), MaxOffset: max.Offset,
		MaxTransid: ^uint64(0), NrItems: limit,
	}
	a.BufSize = bufSize
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(dirfd), iocTreeSearchV2, uintptr(unsafe.Pointer(a))); errno != 0 {
		return 0, fmt.Errorf("BTRFS_IOC_TREE_SEARCH_V2: %w", errno)
	}
	return int(a.Key.NrItems), nil
}

// DirRef returns the name and parent of directory ino (its one
// INODE_REF), or false when it has none: an unlinked directory, not
// reachable from the root. ScanParallel's workers use it for a directory
// that lies in another worker's range.
func DirRef(dirfd int, ino uint64) (Ref, bool, error) {
	var ref Ref
	found := false
	err := Search(dirfd, 0, Key{ino, typeInodeRef, 0}, Key{ino, typeInodeRef, ^uint64(0)}, func(k Key, item []byte) error {
		return eachInodeRef(k, item, func(parent uint64, name []byte) {
			if !found {
				ref, found = Ref{Parent: parent, Name: slices.Clone(name)}, true
			}
		})
	})
	return ref, found, err
}

// eachInodeRef calls add with each name packed in the INODE_REF item k
// (all in the directory k.Offset).
func eachInodeRef(k Key, item []byte, add func(parent uint64, name []byte)) error {
	for len(item) >= 10 {
		l := int(binary.LittleEndian.Uint16(item[8:]))
		if len(item) < 10+l {
			return fmt.Errorf("tree search: inode %d: short inode ref", k.ObjectID)
		}
		add(k.Offset, item[10:10+l])
		item = item[10+l:]
	}
	return nil
}

// scanRange is Scan over the inodes lo..hi.
func scanRange(dirfd int, lo, hi uint64, fn func(Inode, []Ref) error) error {
	var cur Inode
	var refs []Ref
	var names []byte // the current inode's names, back to back
	type span struct{ start, end int }
	var spans []span
	have := false
	emit := func() error {
		if !have {
			return nil
		}
		have = false
		for i := range refs {
			refs[i].Name = names[spans[i].start:spans[i].end]
		}
		return fn(cur, refs)
	}
	// Names are copied out of the search buffer, which the next batch
	// overwrites while an inode's items may go on in it.
	addRef := func(parent uint64, name []byte) {
		spans = append(spans, span{len(names), len(names) + len(name)})
		names = append(names, name...)
		refs = append(refs, Ref{Parent: parent})
	}
	err := Search(dirfd, 0, Key{lo, typeInodeItem, 0}, Key{hi, 255, ^uint64(0)}, func(k Key, item []byte) error {
		switch k.Type {
		case typeInodeItem:
			if err := emit(); err != nil {
				return err
			}
			if len(item) < inodeItemSize {
				return fmt.Errorf("tree search: inode %d: short inode item", k.ObjectID)
			}
			cur = Inode{
				Ino:  k.ObjectID,
				Size: int64(binary.LittleEndian.Uint64(item[16:])),
				Mode: binary.LittleEndian.Uint32(item[52:]),
			}
			refs, names, spans, have = refs[:0], names[:0], spans[:0], true
		case typeInodeRef:
			if !have || cur.Ino != k.ObjectID {
				return nil
			}
			return eachInodeRef(k, item, addRef)
		case typeInodeExtref:
			if !have || cur.Ino != k.ObjectID {
				return nil
			}
			for len(item) >= 18 {
				l := int(binary.LittleEndian.Uint16(item[16:]))
				if len(item) < 18+l {
					return fmt.Errorf("tree search: inode %d: short inode extref", k.ObjectID)
				}
				addRef(binary.LittleEndian.Uint64(item), item[18:18+l])
				item = item[18+l:]
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return emit()
}

// checkReadOnlySubvolumeRoot returns ErrNotReadOnlySubvolume unless dirfd
// is the root directory of a read-only btrfs subvolume.
func checkReadOnlySubvolumeRoot(dirfd int) error {
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(dirfd, &sfs); err != nil {
		return fmt.Errorf("fstatfs: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(dirfd, &st); err != nil {
		return fmt.Errorf("fstat: %w", err)
	}
	if uint32(sfs.Type) != superMagic || st.Ino != RootIno || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return ErrNotReadOnlySubvolume
	}
	var flags uint64
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(dirfd), iocSubvolGetflags, uintptr(unsafe.Pointer(&flags))); errno != 0 {
		return fmt.Errorf("BTRFS_IOC_SUBVOL_GETFLAGS: %w", errno)
	}
	if flags&subvolRdonly == 0 {
		return ErrNotReadOnlySubvolume
	}
	return nil
}

func (k Key) less(o Key) bool {
	if k.ObjectID != o.ObjectID {
		return k.ObjectID < o.ObjectID
	}
	if k.Type != o.Type {
		return k.Type < o.Type
	}
	return k.Offset < o.Offset
}

// successor is the smallest key after k, false past the last one.
func (k Key) successor() (Key, bool) {
	switch {
	case k.Offset < ^uint64(0):
		k.Offset++
	case k.Type < 255:
		k.Type, k.Offset = k.Type+1, 0
	case k.ObjectID < ^uint64(0):
		k.ObjectID, k.Type, k.Offset = k.ObjectID+1, 0, 0
	default:
		return k, false
	}
	return k, true
}
