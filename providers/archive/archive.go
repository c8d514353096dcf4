// Package archive stores service backups (a Prometheus TSDB snapshot, a
// SQLite backup file, configuration directories) as .tar.gz archives with a
// sha256sum sidecar, and proves them restorable by extracting them.
//
// Every member keeps what a restore needs: type, mode, numeric owner,
// mtime to the nanosecond and xattrs (user.*, security.*, POSIX ACLs), all
// as PAX records; owners are stored by number only, since a service's users
// are identified by id on the host it is restored to. Each regular file
// carries its SHA-256 in the PAX record "DRSYNC.sha256", so a restore can
// tell which file is damaged rather than only that the archive is.
//
// Hardlinked files are stored once, the other names as tar hardlink
// members, so a restore recreates the link rather than a copy. Sockets,
// FIFOs and device nodes are not service data: Create skips them and names
// them in Result.Skipped. Archives are written 0600: backups hold secrets.
package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

const (
	// ext is the suffix of every archive Create writes, List returns and
	// Delete accepts.
	ext = ".tar.gz"
	// sumExt is appended to an archive's path to name its sidecar.
	sumExt = ".sha256"
	// paxSHA256 is the PAX record holding a regular file's content hash.
	paxSHA256 = "DRSYNC.sha256"
	// paxXattr prefixes the PAX records holding xattrs, as GNU tar and
	// bsdtar write them.
	paxXattr = "SCHILY.xattr."
	// chunkSize bounds how much is copied between cancellation checks.
	chunkSize = 1 << 20
)

// Source is one tree or file to put in an archive, stored under Name
// (a relative, slash-separated path inside the archive, e.g. "tsdb" or "grafana.db").
type Source struct{ Path, Name string }

// Result describes a written archive.
type Result struct {
	Path   string // the archive
	Bytes  int64  // compressed size
	Files  int    // regular files stored, hardlinked names included
	SHA256 string // of the archive file, also written to Path+".sha256" in `sha256sum` format ("<hex>  <basename>\n")
	// Skipped names the members left out because they are sockets, FIFOs
	// or devices: they are not data, and recreating them needs privileges
	// a restore test should not rely on.
	Skipped []string
}

// Entry is an archive found in a directory.
type Entry struct {
	Name        string
	Size        int64
	HasChecksum bool
}

// Mismatch names an archive member (or "" for the archive itself) and the failed check:
// "checksum" (archive sha256 vs sidecar), "missing-checksum", "corrupt" (gzip/tar read error),
// "sha256" (member content vs its DRSYNC.sha256), "size" (extracted file vs member size),
// "path" (unsafe member name or hardlink target), "extract" (could not write).
type Mismatch struct{ Path, Check, Want, Got string }

// Report is what Verify found. Files counts the regular files restored
// (hardlinked names included) and Bytes their content.
type Report struct {
	Files int
	Bytes int64
	// Members names the regular file members restored, in archive order,
	// so a report can list each file with its checks.
	Members    []string
	Mismatches []Mismatch
}

// List returns the *.tar.gz files directly in dir (sorted by name); a
// missing dir is empty, not an error. Hidden names are left out, which
// covers the ".<dest>.tmp-*" files of an interrupted Create.
func List(dir string) ([]Entry, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list archives: %w", err)
	}
	var out []Entry
	for _, de := range des {
		name := de.Name()
		if !de.Type().IsRegular() || !strings.HasSuffix(name, ext) || strings.HasPrefix(name, ".") {
			continue
		}
		fi, err := de.Info()
		if errors.Is(err, fs.ErrNotExist) { // pruned meanwhile
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list archives: %w", err)
		}
		sum, err := os.Lstat(filepath.Join(dir, name+sumExt))
		out = append(out, Entry{Name: name, Size: fi.Size(), HasChecksum: err == nil && sum.Mode().IsRegular()})
	}
	return out, nil
}

// Delete removes an archive and its sidecar. The archive goes first, so
// an interruption leaves an unlisted sidecar rather than an archive that
// looks damaged. It refuses paths not ending in .tar.gz, since a retention
// bug should not be able to delete anything else.
func Delete(path string) error {
	if !strings.HasSuffix(path, ext) {
		return fmt.Errorf("delete %s: not a %s archive", path, ext)
	}
	aerr := os.Remove(path)
	if err := os.Remove(path + sumExt); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete archive checksum: %w", errors.Join(aerr, err))
	}
	if aerr != nil {
		return fmt.Errorf("delete archive: %w", aerr)
	}
	return nil
}

// localName reports whether name is a clean relative slash path that
// stays beneath the directory it is resolved in.
func localName(name string) bool {
	return name != "" && name != "." && !path.IsAbs(name) && path.Clean(name) == name &&
		name != ".." && !strings.HasPrefix(name, "../") && !strings.ContainsRune(name, 0)
}

// sidecarLine is the sha256sum line for an archive, so `sha256sum -c`
// run in the archive directory checks it too.
func sidecarLine(sum, archivePath string) string {
	return sum + "  " + filepath.Base(archivePath) + "\n"
}

// readSidecar returns the digest a sidecar records; ok is false when it
// is missing. A sidecar that is not a sha256sum line yields its text, so
// that Verify reports it as a checksum mismatch showing what was found.
func readSidecar(archivePath string) (sum string, ok bool, err error) {
	b, err := os.ReadFile(archivePath + sumExt)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read checksum: %w", err)
	}
	line := strings.TrimSpace(string(b[:min(len(b), 200)]))
	if sum, _, _ = strings.Cut(line, " "); len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" {
		return line, true, nil
	}
	return sum, true, nil
}
