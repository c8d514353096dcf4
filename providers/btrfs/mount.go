package btrfs

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Mount describes what is mounted exactly at a mount point.
type Mount struct {
	MountPoint, FSType, Source, Root string
}

// Mounts returns every mount visible to this process, in /proc/self/mountinfo
// order (a mount always follows the mount it sits on).
func Mounts() ([]Mount, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	var mounts []Mount
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// 36 35 98:0 /root /mnt opts [optional...] - fstype source superopts
		fields := strings.Fields(sc.Text())
		sep := -1
		for i := 6; i < len(fields); i++ {
			if fields[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+2 >= len(fields) {
			return nil, fmt.Errorf("malformed mountinfo line %q", sc.Text())
		}
		mounts = append(mounts, Mount{
			MountPoint: unescapeMountinfo(fields[4]),
			Root:       unescapeMountinfo(fields[3]),
			FSType:     fields[sep+1],
			Source:     unescapeMountinfo(fields[sep+2]),
		})
	}
	return mounts, sc.Err()
}

// unescapeMountinfo undoes the kernel's octal escaping of space, tab,
// newline and backslash (e.g. "\040").
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// MountAt reports what is mounted exactly at mountPoint (the topmost mount
// when several are stacked); false means nothing is, e.g. a bare directory
// that a drive should have been mounted on.
func MountAt(mountPoint string) (Mount, bool, error) {
	p, err := filepath.Abs(mountPoint)
	if err != nil {
		return Mount{}, false, err
	}
	// mountinfo holds resolved paths.
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	mounts, err := Mounts()
	if err != nil {
		return Mount{}, false, err
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		if mounts[i].MountPoint == p {
			return mounts[i], true, nil
		}
	}
	return Mount{}, false, nil
}
