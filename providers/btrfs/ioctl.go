package btrfs

import (
	"encoding/hex"
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Request numbers and argument layouts mirror linux/btrfs.h; x/sys/unix does
// not carry the btrfs ioctls. Sizes are asserted at compile time below so a
// layout mistake fails the build instead of corrupting kernel memory.
const (
	iocSubvolGetflags    = 0x80089419 // _IOR(0x94, 25, __u64)
	iocSubvolSetflags    = 0x4008941a // _IOW(0x94, 26, __u64)
	iocFSInfo            = 0x8400941f // _IOR(0x94, 31, struct btrfs_ioctl_fs_info_args)
	iocSetReceivedSubvol = 0xc0c89425 // _IOWR(0x94, 37, struct btrfs_ioctl_received_subvol_args)
	iocGetSubvolInfo     = 0x81f8943c // _IOR(0x94, 60, struct btrfs_ioctl_get_subvol_info_args)
	iocSnapDestroy       = 0x5000940f // _IOW(0x94, 15, struct btrfs_ioctl_vol_args)
	iocSnapCreateV2      = 0x50009417 // _IOW(0x94, 23, struct btrfs_ioctl_vol_args_v2)

	// The ro bit differs by interface: SUBVOL_GETFLAGS/SETFLAGS speak
	// BTRFS_SUBVOL_RDONLY (1<<1), GET_SUBVOL_INFO returns the on-disk root
	// item flags where it is BTRFS_ROOT_SUBVOL_RDONLY (1<<0).
	subvolRdonly      = 1 << 1
	rootSubvolRdonly  = 1 << 0
	firstFreeObjectID = 256 // BTRFS_FIRST_FREE_OBJECTID: inode number of every subvolume root
)

// ioctlTimespec is struct btrfs_ioctl_timespec (__u64 sec; __u32 nsec), padded to 16 bytes.
type ioctlTimespec struct {
	Sec  uint64
	Nsec uint32
	_    uint32
}

// getSubvolInfoArgs is struct btrfs_ioctl_get_subvol_info_args (504 bytes).
type getSubvolInfoArgs struct {
	TreeID       uint64
	Name         [256]byte // BTRFS_VOL_NAME_MAX + 1
	ParentID     uint64
	DirID        uint64
	Generation   uint64
	Flags        uint64
	UUID         [16]byte
	ParentUUID   [16]byte
	ReceivedUUID [16]byte
	Ctransid     uint64
	Otransid     uint64
	Stransid     uint64
	Rtransid     uint64
	Ctime        ioctlTimespec
	Otime        ioctlTimespec
	Stime        ioctlTimespec
	Rtime        ioctlTimespec
	_            [8]uint64
}

// receivedSubvolArgs is struct btrfs_ioctl_received_subvol_args (200 bytes).
type receivedSubvolArgs struct {
	UUID     [16]byte
	Stransid uint64
	Rtransid uint64
	Stime    ioctlTimespec
	Rtime    ioctlTimespec
	Flags    uint64
	_        [16]uint64
}

// fsInfoArgs is struct btrfs_ioctl_fs_info_args (1024 bytes).
type fsInfoArgs struct {
	MaxID          uint64
	NumDevices     uint64
	FSID           [16]byte
	Nodesize       uint32
	Sectorsize     uint32
	CloneAlignment uint32
	CsumType       uint16
	CsumSize       uint16
	Flags          uint64
	Generation     uint64
	MetadataUUID   [16]byte
	_              [944]byte
}

// volArgs is struct btrfs_ioctl_vol_args (4096 bytes): a name in the
// directory the ioctl is called on.
type volArgs struct {
	Fd   int64
	Name [4088]byte // BTRFS_PATH_NAME_MAX + 1
}

// volArgsV2 is struct btrfs_ioctl_vol_args_v2 (4096 bytes) without qgroup
// inheritance: Fd is the subvolume to snapshot, Name the new snapshot's
// name in the directory the ioctl is called on.
type volArgsV2 struct {
	Fd      int64
	Transid uint64
	Flags   uint64
	_       [4]uint64
	Name    [4040]byte // BTRFS_SUBVOL_NAME_MAX + 1
}

// Compile-time size checks: each expression is a negative array length
// (a build error) when the size is wrong.
var (
	_ [unsafe.Sizeof(getSubvolInfoArgs{}) - 504]byte
	_ [504 - unsafe.Sizeof(getSubvolInfoArgs{})]byte
	_ [unsafe.Sizeof(receivedSubvolArgs{}) - 200]byte
	_ [200 - unsafe.Sizeof(receivedSubvolArgs{})]byte
	_ [unsafe.Sizeof(fsInfoArgs{}) - 1024]byte
	_ [1024 - unsafe.Sizeof(fsInfoArgs{})]byte
	_ [unsafe.Sizeof(volArgs{}) - 4096]byte
	_ [4096 - unsafe.Sizeof(volArgs{})]byte
	_ [unsafe.Sizeof(volArgsV2{}) - 4096]byte
	_ [4096 - unsafe.Sizeof(volArgsV2{})]byte
)

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

// formatUUID renders b as 8-4-4-4-12 lowercase hex; the all-zero UUID is
// btrfs' "unset" and becomes "".
func formatUUID(b [16]byte) string {
	if b == [16]byte{} {
		return ""
	}
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	hex.Encode(out[9:13], b[4:6])
	hex.Encode(out[14:18], b[6:8])
	hex.Encode(out[19:23], b[8:10])
	hex.Encode(out[24:36], b[10:16])
	out[8], out[13], out[18], out[23] = '-', '-', '-', '-'
	return string(out[:])
}

func parseUUID(s string) ([16]byte, error) {
	var b [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return b, fmt.Errorf("invalid uuid %q", s)
	}
	raw, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(raw) != 16 {
		return b, fmt.Errorf("invalid uuid %q", s)
	}
	copy(b[:], raw)
	return b, nil
}
