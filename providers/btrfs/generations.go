package btrfs

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/providers/btrfs/treesearch"
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

// Where btrfs_inode_item keeps what InodeGens reads: generation, transid,
// size, ...
const (
	inodeItemKey        = 1 // BTRFS_INODE_ITEM_KEY
	inodeItemTransidOff = 8
	inodeItemSizeOff    = 16
	inodeItemMinBytes   = 24
)

// searchInodeItems walks the tree of the subvolume fd is in (tree id 0)
// from the first free object id, keeping INODE_ITEMs.
func searchInodeItems(fd int) ([]InodeGen, error) {
	ne := binary.LittleEndian // btrfs's on-disk order
	var gens []InodeGen
	err := treesearch.Search(fd, 0, treesearch.Key{ObjectID: firstFreeObjectID},
		treesearch.Key{ObjectID: math.MaxUint64, Type: math.MaxUint8, Offset: math.MaxUint64},
		func(k treesearch.Key, item []byte) error {
			if k.Type == inodeItemKey && len(item) >= inodeItemMinBytes {
				gens = append(gens, InodeGen{Ino: k.ObjectID,
					Transid: ne.Uint64(item[inodeItemTransidOff:]),
					Size:    int64(ne.Uint64(item[inodeItemSizeOff:]))})
			}
			return nil
		})
	return gens, err
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
