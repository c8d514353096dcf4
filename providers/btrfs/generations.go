package btrfs

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/verify/coverage"
)

// InodeGen is what a subvolume's own tree says of one inode: its size and
// the transaction that last changed it (data, size, mode, owner, xattrs
// or times all rewrite the inode item).
type InodeGen struct {
	Ino     uint64
	Size    int64
	Transid uint64
}

// InodeGens lists every inode of the subvolume at root, ordered by inode
// number, from its INODE_ITEMs read with BTRFS_IOC_TREE_SEARCH_V2: no file
// is opened and no data read, so a million files cost one pass over the
// tree's metadata. A file of a newer snapshot whose Transid is at most the
// generation an older snapshot (of the same lineage, on the same
// filesystem) had is unchanged since that snapshot: snapshots and
// incremental receives share unchanged inode items, and any change
// rewrites the item in a later transaction.
func InodeGens(root string) ([]InodeGen, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("inode generations of %s: %w", root, err)
	}
	defer unix.Close(fd)
	// Inode items reach the tree lazily (delayed inodes): a replica
	// received a moment ago may show stale ones until its filesystem
	// commits. Nothing to write, nothing to wait for.
	if err := unix.Syncfs(fd); err != nil {
		return nil, fmt.Errorf("inode generations of %s: syncfs: %w", root, err)
	}
	gens, err := searchInodeItems(fd)
	if err != nil {
		return nil, fmt.Errorf("inode generations of %s: %w", root, err)
	}
	return gens, nil
}

// FindInode returns the entry of ino in gens (ordered by inode number).
func FindInode(gens []InodeGen, ino uint64) (InodeGen, bool) {
	i := sort.Search(len(gens), func(i int) bool { return gens[i].Ino >= ino })
	if i < len(gens) && gens[i].Ino == ino {
		return gens[i], true
	}
	return InodeGen{}, false
}

// The tree search interface of linux/btrfs.h: struct
// btrfs_ioctl_search_args_v2 is a 104-byte btrfs_ioctl_search_key, a u64
// buf_size and the result buffer; each result is a 32-byte
// btrfs_ioctl_search_header followed by the item.
const (
	iocTreeSearchV2     = 0xc0709411 // _IOWR(0x94, 17, struct btrfs_ioctl_search_args_v2)
	searchArgsBytes     = 112        // key and buf_size
	searchHeaderBytes   = 32
	inodeItemKey        = 1 // BTRFS_INODE_ITEM_KEY
	inodeItemTransidOff = 8 // btrfs_inode_item: generation, transid, size, ...
	inodeItemSizeOff    = 16
	inodeItemMinBytes   = 24
	searchBufBytes      = 256 << 10
)

// searchInodeItems walks the key range of the subvolume fd is in (tree id
// 0) from the first free object id, keeping INODE_ITEMs. The range is of
// whole keys (objectid, type, offset), so other items come back too;
// INODE_ITEM is the lowest key type an inode has, so once any item of an
// inode came back, the next batch starts at the following inode.
func searchInodeItems(fd int) ([]InodeGen, error) {
	words := make([]uint64, (searchArgsBytes+searchBufBytes)/8) // 8-byte aligned for the kernel
	args := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), searchArgsBytes+searchBufBytes)
	ne := binary.NativeEndian
	var gens []InodeGen
	minObjectid := uint64(firstFreeObjectID)
	for {
		clear(args[:searchArgsBytes])
		ne.PutUint64(args[0:], 0) // tree_id: the subvolume of fd
		ne.PutUint64(args[8:], minObjectid)
		ne.PutUint64(args[16:], math.MaxUint64) // max_objectid
		ne.PutUint64(args[32:], math.MaxUint64) // max_offset
		ne.PutUint64(args[48:], math.MaxUint64) // max_transid
		ne.PutUint32(args[60:], math.MaxUint32) // max_type
		ne.PutUint32(args[64:], math.MaxUint32) // nr_items: as many as fit
		ne.PutUint64(args[104:], searchBufBytes)
		if err := ioctl(fd, iocTreeSearchV2, unsafe.Pointer(&args[0])); err != nil {
			return nil, fmt.Errorf("tree search: %w", err)
		}
		nr := ne.Uint32(args[64:])
		if nr == 0 {
			return gens, nil
		}
		data := args[searchArgsBytes:]
		var last uint64
		for off := 0; nr > 0; nr-- {
			h := data[off : off+searchHeaderBytes]
			objectid, typ, n := ne.Uint64(h[8:]), ne.Uint32(h[24:]), int(ne.Uint32(h[28:]))
			item := data[off+searchHeaderBytes : off+searchHeaderBytes+n]
			if typ == inodeItemKey && n >= inodeItemMinBytes {
				gens = append(gens, InodeGen{Ino: objectid,
					Transid: ne.Uint64(item[inodeItemTransidOff:]),
					Size:    int64(ne.Uint64(item[inodeItemSizeOff:]))})
			}
			last = objectid
			off += searchHeaderBytes + n
		}
		if last == math.MaxUint64 {
			return gens, nil
		}
		minObjectid = last + 1
	}
}

// CountSlices counts each of n slices of the snapshot at path, sizes and
// generations from its own tree (InodeGens): since[k] > 0 also counts
// slice k's files unchanged since that generation.
func (Storage) CountSlices(path string, n int, since []uint64) ([]coverage.SliceCount, error) {
	gens, err := InodeGens(path)
	if err != nil {
		return nil, err
	}
	return coverage.CountSlices(path, n, since, func(ino uint64) (int64, uint64, bool) {
		g, ok := FindInode(gens, ino)
		return g.Size, g.Transid, ok
	})
}

// Generation is the generation of the subvolume at path: no inode of it
// changed later, and an inode of a later snapshot of the same lineage
// carrying at most this generation is unchanged since.
func (Storage) Generation(path string) (uint64, error) {
	// A replica received a moment ago has items of a transaction not yet
	// committed: commit first, so the generation covers them.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("generation of %s: %w", path, err)
	}
	err = unix.Syncfs(fd)
	unix.Close(fd)
	if err != nil {
		return 0, fmt.Errorf("generation of %s: syncfs: %w", path, err)
	}
	sv, err := Info(path)
	if err != nil {
		return 0, err
	}
	return sv.Generation, nil
}
