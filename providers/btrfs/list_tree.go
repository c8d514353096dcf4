package btrfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/providers/btrfs/treesearch"
)

// Keys and layouts of the root tree (btrfs_tree.h).
const (
	rootTreeID  = 1   // BTRFS_ROOT_TREE_OBJECTID
	rootItemKey = 132 // BTRFS_ROOT_ITEM_KEY: a subvolume's root item, keyed by its id
	rootRefKey  = 156 // BTRFS_ROOT_REF_KEY: (parent id, ROOT_REF, child id) -> dirid, name

	rootRefHeader = 18 // struct btrfs_root_ref: dirid, sequence, name_len

	// Offsets in struct btrfs_root_item (packed).
	rootItemGeneration   = 160
	rootItemFlags        = 208
	rootItemUUID         = 247
	rootItemParentUUID   = 263
	rootItemReceivedUUID = 279
	rootItemOtime        = 339
	rootItemMinSize      = 351 // through otime; older kernels wrote shorter items without the UUIDs
	// denseGap: ids this close are read with one ranged search; sparser ones
	// (snapshots of many subvolumes created in turn) one search each.
	denseGap = 16
)

// errNoTreeList means the root tree cannot be read (no CAP_SYS_ADMIN, an
// old kernel, an old root item): List asks each entry instead.
var errNoTreeList = errors.New("root tree not readable")

// listFromRootTree classifies the entries of the directory open as dirfd
// (inode dirIno, in the subvolume parentID) with a few tree searches of
// the root tree instead of an openat and GET_SUBVOL_INFO per entry: a
// subvolume directly inside the directory has a ROOT_REF from parentID
// with the directory's inode, and its ROOT_ITEM holds what GET_SUBVOL_INFO
// reports. A name with no such ref is left out; it may still have become
// a subvolume since, so the caller asks those one by one.
func listFromRootTree(dirfd int, abs string, dirIno, parentID uint64, names []string) (map[string]*Subvolume, error) {
	ids := map[string]uint64{}
	err := treesearch.Search(dirfd, rootTreeID,
		treesearch.Key{ObjectID: parentID, Type: rootRefKey},
		treesearch.Key{ObjectID: parentID, Type: rootRefKey, Offset: ^uint64(0)},
		func(k treesearch.Key, item []byte) error {
			if len(item) < rootRefHeader {
				return errNoTreeList
			}
			l := int(binary.LittleEndian.Uint16(item[16:]))
			if len(item) < rootRefHeader+l {
				return errNoTreeList
			}
			if binary.LittleEndian.Uint64(item) == dirIno {
				ids[string(item[rootRefHeader:rootRefHeader+l])] = k.Offset
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	byID := make(map[uint64]*Subvolume, len(ids))
	byName := make(map[string]*Subvolume, len(ids))
	var wanted []uint64
	for _, name := range names {
		if id, ok := ids[name]; ok {
			sv := &Subvolume{Path: filepath.Join(abs, name), Name: name}
			byID[id], byName[name] = sv, sv
			wanted = append(wanted, id)
		}
	}
	slices.Sort(wanted)
	found := 0
	for i := 0; i < len(wanted); {
		j := i
		for j+1 < len(wanted) && wanted[j+1]-wanted[j] <= denseGap {
			j++
		}
		err := treesearch.Search(dirfd, rootTreeID,
			treesearch.Key{ObjectID: wanted[i], Type: rootItemKey},
			treesearch.Key{ObjectID: wanted[j], Type: rootItemKey, Offset: ^uint64(0)},
			func(k treesearch.Key, item []byte) error {
				sv := byID[k.ObjectID]
				if k.Type != rootItemKey || sv == nil {
					return nil
				}
				if len(item) < rootItemMinSize {
					return errNoTreeList
				}
				fillFromRootItem(sv, item)
				found++
				return nil
			})
		if err != nil {
			return nil, err
		}
		i = j + 1
	}
	if found != len(wanted) {
		return nil, errNoTreeList // one was deleted meanwhile: ask the slow way
	}
	return byName, nil
}

// fillFromRootItem sets what GET_SUBVOL_INFO would report from the root
// item it reads.
func fillFromRootItem(sv *Subvolume, item []byte) {
	uuid := func(off int) string {
		if len(item) < off+16 {
			return ""
		}
		return formatUUID([16]byte(item[off : off+16]))
	}
	sv.UUID = uuid(rootItemUUID)
	sv.ParentUUID = uuid(rootItemParentUUID)
	sv.ReceivedUUID = uuid(rootItemReceivedUUID)
	sv.ReadOnly = binary.LittleEndian.Uint64(item[rootItemFlags:])&rootSubvolRdonly != 0
	sv.Generation = binary.LittleEndian.Uint64(item[rootItemGeneration:])
	sv.Created = time.Unix(int64(binary.LittleEndian.Uint64(item[rootItemOtime:])), int64(binary.LittleEndian.Uint32(item[rootItemOtime+8:])))
}

// listKnown returns the subvolumes among entries that the root tree lists,
// by name; nil (and no error) when the root tree cannot be read.
func listKnown(dirfd int, abs string, parentID uint64, entries []os.DirEntry) (map[string]*Subvolume, error) {
	var st unix.Stat_t
	if err := unix.Fstat(dirfd, &st); err != nil {
		return nil, fmt.Errorf("stat: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	known, err := listFromRootTree(dirfd, abs, st.Ino, parentID, names)
	if treeListUnavailable(err) {
		return nil, nil
	}
	return known, err
}

// treeListUnavailable reports whether err means "use the per-entry ioctls".
func treeListUnavailable(err error) bool {
	return errors.Is(err, errNoTreeList) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL)
}
