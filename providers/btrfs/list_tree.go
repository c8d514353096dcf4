package btrfs

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/providers/btrfs/treesearch"
)

// Keys and layouts of the root tree and of directory items (btrfs_tree.h).
const (
	rootTreeID     = 1   // BTRFS_ROOT_TREE_OBJECTID
	rootItemKey    = 132 // BTRFS_ROOT_ITEM_KEY: a subvolume's root item, keyed by its id
	rootBackrefKey = 144 // BTRFS_ROOT_BACKREF_KEY: (child id, ROOT_BACKREF, parent id) -> dirid, name
	dirIndexKey    = 96  // BTRFS_DIR_INDEX_KEY: (directory inode, DIR_INDEX, sequence) -> a dir item

	rootRefHeader = 18 // struct btrfs_root_ref (and backref): dirid, sequence, name_len

	// struct btrfs_dir_item (packed): location key (objectid, type,
	// offset), transid, data_len, name_len, type, then the name.
	dirItemLocationType = 8
	dirItemNameLen      = 27
	dirItemHeader       = 30

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
// (inode dirIno, in the subvolume parentID) with a few tree searches
// instead of an openat and GET_SUBVOL_INFO per entry. The directory's own
// DIR_INDEX items name the subvolume each entry links to. They are only a
// hint, since btrfs may hold recent directory changes in memory (delayed
// items) before they reach the btree; the root tree is the proof: a
// subvolume directly inside the directory has a ROOT_BACKREF to parentID
// with the directory's inode and the entry's name, and its ROOT_ITEM holds
// what GET_SUBVOL_INFO reports. So a listing costs one item per entry of
// this directory; reading every ROOT_REF of parentID instead cost one per
// subvolume anywhere in it, which grows with the number of snapshot
// directories as well as their size. A name with no proven subvolume is
// left out; the caller asks those one by one.
func listFromRootTree(dirfd int, abs string, dirIno, parentID uint64, names []string) (map[string]*Subvolume, error) {
	hinted := make(map[string]uint64, len(names))
	err := treesearch.Search(dirfd, 0,
		treesearch.Key{ObjectID: dirIno, Type: dirIndexKey},
		treesearch.Key{ObjectID: dirIno, Type: dirIndexKey, Offset: ^uint64(0)},
		func(_ treesearch.Key, item []byte) error {
			if len(item) < dirItemHeader {
				return errNoTreeList
			}
			l := int(binary.LittleEndian.Uint16(item[dirItemNameLen:]))
			if len(item) < dirItemHeader+l {
				return errNoTreeList
			}
			if item[dirItemLocationType] == rootItemKey {
				hinted[string(item[dirItemHeader:dirItemHeader+l])] = binary.LittleEndian.Uint64(item)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	// The entries the DIR_INDEX items link to subvolumes, in id order: the
	// root tree returns its items in that order, so a cursor pairs them,
	// with no map by id to fill and look up per snapshot. Names are single
	// path elements of the clean abs.
	type candidate struct {
		id        uint64
		sv        *Subvolume
		item, ref bool // its root item, and its back reference from this directory under its name, were read
	}
	subvols := make([]Subvolume, 0, len(hinted))
	cands := make([]candidate, 0, len(hinted))
	dir := strings.TrimSuffix(abs, "/") + "/"
	for _, name := range names {
		if id, ok := hinted[name]; ok {
			subvols = append(subvols, Subvolume{Path: dir + name, Name: name})
			cands = append(cands, candidate{id: id, sv: &subvols[len(subvols)-1]})
		}
	}
	slices.SortFunc(cands, func(a, b candidate) int { return cmp.Compare(a.id, b.id) })
	for i := 0; i < len(cands); {
		j := i
		for j+1 < len(cands) && cands[j+1].id-cands[j].id <= denseGap {
			j++
		}
		next := i // the first candidate whose id is not below the last key's
		err := treesearch.Search(dirfd, rootTreeID,
			treesearch.Key{ObjectID: cands[i].id, Type: rootItemKey},
			treesearch.Key{ObjectID: cands[j].id, Type: rootBackrefKey, Offset: ^uint64(0)},
			func(k treesearch.Key, item []byte) error {
				for next <= j && cands[next].id < k.ObjectID {
					next++
				}
				// Two names hinted at one id (a stale DIR_INDEX): each is
				// proven or not by its own back reference.
				for c := next; c <= j && cands[c].id == k.ObjectID; c++ {
					cand := &cands[c]
					switch {
					case k.Type == rootItemKey:
						if len(item) < rootItemMinSize {
							return errNoTreeList
						}
						fillFromRootItem(cand.sv, item)
						cand.item = true
					case k.Type == rootBackrefKey && k.Offset == parentID:
						if len(item) < rootRefHeader {
							return errNoTreeList
						}
						l := int(binary.LittleEndian.Uint16(item[16:]))
						if len(item) >= rootRefHeader+l && binary.LittleEndian.Uint64(item) == dirIno &&
							string(item[rootRefHeader:rootRefHeader+l]) == cand.sv.Name {
							cand.ref = true
						}
					}
				}
				return nil
			})
		if err != nil {
			return nil, err
		}
		i = j + 1
	}
	proven := make(map[string]*Subvolume, len(cands))
	for i := range cands {
		if cands[i].item && cands[i].ref {
			proven[cands[i].sv.Name] = cands[i].sv
		}
	}
	return proven, nil
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
