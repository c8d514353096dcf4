package archive

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// keptXattr reports whether an xattr belongs in a backup: user data,
// security labels and POSIX ACLs. trusted.* needs privileges a backup
// should not rely on, and other system.* names are not stored data.
func keptXattr(name string) bool {
	return strings.HasPrefix(name, "user.") || strings.HasPrefix(name, "security.") ||
		name == "system.posix_acl_access" || name == "system.posix_acl_default"
}

// readXattrs adds path's kept xattrs to rec as SCHILY.xattr PAX records,
// without following a symlink.
func readXattrs(path string, rec map[string]string) error {
	size, err := unix.Llistxattr(path, nil)
	if errors.Is(err, unix.ENOTSUP) || size == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listxattr %s: %w", path, err)
	}
	list := make([]byte, size)
	if size, err = unix.Llistxattr(path, list); err != nil {
		return fmt.Errorf("listxattr %s: %w", path, err)
	}
	for name := range strings.SplitSeq(string(list[:size]), "\x00") {
		if !keptXattr(name) {
			continue
		}
		n, err := unix.Lgetxattr(path, name, nil)
		if err == nil {
			v := make([]byte, n)
			n, err = unix.Lgetxattr(path, name, v)
			rec[paxXattr+name] = string(v[:n])
		}
		if err != nil && !errors.Is(err, unix.ENODATA) { // ENODATA: removed meanwhile
			return fmt.Errorf("getxattr %s %s: %w", path, name, err)
		}
	}
	return nil
}

// setXattrs restores the xattrs recorded in rec on base in the directory
// dirfd. Linux has no *at call for xattrs, so base is named through
// /proc/self/fd: that resolves to the directory already opened without
// following symlinks, and l*xattr does not follow base. It tolerates a
// scratch filesystem without xattrs, Linux refusing user.* on symlinks,
// and security.* needing privileges the caller lacks.
func setXattrs(dirfd int, base string, rec map[string]string) error {
	path := fmt.Sprintf("/proc/self/fd/%d/%s", dirfd, base)
	for k, v := range rec {
		name, ok := strings.CutPrefix(k, paxXattr)
		if !ok {
			continue
		}
		err := unix.Lsetxattr(path, name, []byte(v), 0)
		if err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("setxattr %s %s: %w", path, name, err)
		}
	}
	return nil
}
