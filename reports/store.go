package reports

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/safefs"
)

// Dir is the reports directory below the state directory.
const Dir = "reports"

// stampLayout dates a report's file name, in UTC so names sort by time,
// to the millisecond so a drill run right after a test sorts after it.
const stampLayout = "20060102T150405.000Z"

// maxReportBytes bounds what reading one report may allocate.
const maxReportBytes = 64 << 20

// Ref names one stored report: <Dir>/<Stem>.log and <Stem>.json.
type Ref struct {
	Kind Kind
	Time time.Time
	Stem string
	// Text and JSON are the files' paths, for people and runbooks.
	Text string
	JSON string
}

// Write stores r (summarized) as text and JSON in <stateDir>/reports and
// then deletes the reports older than keep (0 keeps all; the newest of
// each kind is always kept, so status can still name it). Two reports of
// the same kind and second get distinct names; none is ever overwritten.
func Write(stateDir string, keep time.Duration, r Report) (Ref, error) {
	if err := r.Validate(); err != nil {
		return Ref{}, err
	}
	r.Summarize()
	dir := filepath.Join(stateDir, Dir)
	fd, err := openDir(dir, true)
	if err != nil {
		return Ref{}, err
	}
	defer unix.Close(fd)
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return Ref{}, fmt.Errorf("%s report: %w", r.Kind, err)
	}
	var text bytes.Buffer
	if err := WriteText(&text, r); err != nil {
		return Ref{}, err
	}
	stem, err := reserve(fd, dir, string(r.Kind)+"-"+r.Started.UTC().Format(stampLayout), append(js, '\n'))
	if err != nil {
		return Ref{}, err
	}
	if err := place(fd, dir, stem+".log", text.Bytes()); err != nil {
		return Ref{}, err
	}
	ref := newRef(dir, r.Kind, r.Started.UTC().Truncate(time.Millisecond), stem)
	if keep > 0 {
		if err := pruneAt(fd, dir, keep, time.Now()); err != nil {
			return ref, err
		}
	}
	return ref, nil
}

// reserve places the JSON under the first free name of base, base-2, …
func reserve(fd int, dir, base string, content []byte) (string, error) {
	for n := 1; n <= 100; n++ {
		stem := base
		if n > 1 {
			stem += "-" + strconv.Itoa(n)
		}
		err := place(fd, dir, stem+".json", content)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		return stem, err
	}
	return "", fmt.Errorf("%s: 100 reports named %s already", dir, base)
}

// place writes content to a temp file in the directory, syncs it and
// renames it to name unless name exists (EEXIST then).
func place(fd int, dir, name string, content []byte) error {
	var b [6]byte
	rand.Read(b[:])
	tmp := "." + name + ".tmp-" + hex.EncodeToString(b[:])
	tfd, err := safefs.OpenBeneath(fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	f := os.NewFile(uintptr(tfd), tmp)
	_, err = f.Write(content)
	if err == nil {
		err = f.Chmod(0o600) // the umask cannot widen it, but an inherited ACL default could
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat2(fd, tmp, fd, name, unix.RENAME_NOREPLACE)
	}
	if err != nil {
		unix.Unlinkat(fd, tmp, 0)
		return fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
	}
	return nil
}

// openDir opens the reports directory (creating it 0700 when create is
// set), refusing one another user could change, and makes it private.
func openDir(dir string, create bool) (int, error) {
	var fd int
	var err error
	if create {
		fd, err = safefs.MkdirAll(dir, 0o700)
	} else {
		fd, err = safefs.OpenDir(dir)
	}
	if err != nil {
		return -1, fmt.Errorf("reports: %w", err)
	}
	if err := safefs.CheckTrusted(fd, dir); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("reports: %w", err)
	}
	if create {
		if err := unix.Fchmod(fd, 0o700); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("reports: chmod %s: %w", dir, err)
		}
	}
	return fd, nil
}

func newRef(dir string, k Kind, t time.Time, stem string) Ref {
	return Ref{Kind: k, Time: t, Stem: stem,
		Text: filepath.Join(dir, stem+".log"), JSON: filepath.Join(dir, stem+".json")}
}

// parseStem reads a report's kind and time from its file stem; ok is
// false for any other file.
func parseStem(stem string) (Kind, time.Time, bool) {
	for _, k := range Kinds {
		rest, found := strings.CutPrefix(stem, string(k)+"-")
		if !found || len(rest) < len(stampLayout) {
			continue
		}
		t, err := time.Parse(stampLayout, rest[:len(stampLayout)])
		if err != nil {
			continue
		}
		if suffix := rest[len(stampLayout):]; suffix != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(suffix, "-"))
			if !strings.HasPrefix(suffix, "-") || err != nil || n < 2 {
				continue
			}
		}
		return k, t, true
	}
	return "", time.Time{}, false
}

// List returns the stored reports, newest first (of the same millisecond,
// the later-written first). No reports directory means none.
func List(stateDir string) ([]Ref, error) {
	dir := filepath.Join(stateDir, Dir)
	fd, err := openDir(dir, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return listAt(fd, dir)
}

func listAt(fd int, dir string) ([]Ref, error) {
	names, err := readDirNames(fd, dir)
	if err != nil {
		return nil, err
	}
	var refs []Ref
	for _, name := range names {
		stem, ok := strings.CutSuffix(name, ".json")
		if !ok {
			continue
		}
		if k, t, ok := parseStem(stem); ok {
			refs = append(refs, newRef(dir, k, t, stem))
		}
	}
	slices.SortFunc(refs, func(a, b Ref) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		if len(a.Stem) != len(b.Stem) {
			return len(b.Stem) - len(a.Stem)
		}
		return strings.Compare(b.Stem, a.Stem)
	})
	return refs, nil
}

func readDirNames(fd int, dir string) ([]string, error) {
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, fmt.Errorf("reports: dup: %w", err)
	}
	f := os.NewFile(uintptr(dup), dir)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("reports: list %s: %w", dir, err)
	}
	return names, nil
}

// Read returns the report ref names, from its JSON.
func Read(ref Ref) (Report, error) {
	var r Report
	fd, err := openDir(filepath.Dir(ref.JSON), false)
	if err != nil {
		return r, err
	}
	defer unix.Close(fd)
	ffd, err := safefs.OpenBeneath(fd, filepath.Base(ref.JSON), unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return r, fmt.Errorf("reports: %w", err)
	}
	f := os.NewFile(uintptr(ffd), ref.JSON)
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return r, fmt.Errorf("%s: %w", ref.JSON, safefs.ErrNotRegular)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxReportBytes+1))
	if err != nil {
		return r, fmt.Errorf("read %s: %w", ref.JSON, err)
	}
	if len(data) > maxReportBytes {
		return r, fmt.Errorf("%s: larger than %d MiB, not a report drsync wrote", ref.JSON, maxReportBytes>>20)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("%s: %w", ref.JSON, err)
	}
	return r, nil
}

// Latest returns the newest report that names the subvolume, service or
// runbook name ("" for the newest of all); ok is false when none does.
func Latest(stateDir, name string) (Report, Ref, bool, error) {
	refs, err := List(stateDir)
	if err != nil {
		return Report{}, Ref{}, false, err
	}
	for _, ref := range refs {
		r, err := Read(ref)
		if err != nil {
			return Report{}, ref, false, err
		}
		if name == "" || slices.ContainsFunc(r.Items, func(it Item) bool { return it.Name == name }) {
			return r, ref, true, nil
		}
	}
	return Report{}, Ref{}, false, nil
}

// NewestByName maps each subvolume, service or runbook that any report
// names to its newest report. A report that cannot be read is skipped and
// its error returned with the rest, so status still shows what it can.
func NewestByName(stateDir string) (map[string]Ref, error) {
	refs, err := List(stateDir)
	if err != nil {
		return nil, err
	}
	newest := map[string]Ref{}
	var errs []error
	for _, ref := range refs {
		r, err := Read(ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, it := range r.Items {
			if _, seen := newest[it.Name]; !seen {
				newest[it.Name] = ref
			}
		}
	}
	return newest, errors.Join(errs...)
}

// Prune deletes the reports started more than keep before now, except the
// newest of each kind. Files in the directory that are not reports are
// left alone.
func Prune(stateDir string, keep time.Duration, now time.Time) error {
	dir := filepath.Join(stateDir, Dir)
	fd, err := openDir(dir, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return pruneAt(fd, dir, keep, now)
}

func pruneAt(fd int, dir string, keep time.Duration, now time.Time) error {
	refs, err := listAt(fd, dir)
	if err != nil {
		return err
	}
	newest := map[Kind]bool{}
	var errs []error
	for _, ref := range refs {
		first := !newest[ref.Kind]
		newest[ref.Kind] = true
		if first || !ref.Time.Before(now.Add(-keep)) {
			continue
		}
		for _, name := range []string{ref.Stem + ".log", ref.Stem + ".json"} {
			if err := unix.Unlinkat(fd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("reports: remove %s: %w", filepath.Join(dir, name), err))
			}
		}
	}
	return errors.Join(errs...)
}
