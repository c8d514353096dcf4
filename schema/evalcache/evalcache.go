// Package evalcache remembers the desired states drsync has evaluated, so
// that a command over unchanged files skips CUE: loading, unifying with
// the schema, validating and decoding took 5–9 ms of a 40 ms plan.
//
// An entry is found by what an evaluation depends on: this executable (its
// device, inode, size and modification time, so a new build is a new
// entry), the input files' absolute paths, the tags and the host. It is used
// only while the files' contents still hash to what it was evaluated from.
// Files that import packages from outside CUE's standard library, or embed
// files, are never cached: what they read is not among those inputs.
//
// Entries live in $DRSYNC_CACHE, or else in the user's cache directory
// (~/.cache/drsync/desired); DRSYNC_CACHE=off turns the cache off. A
// directory or entry that is not this user's alone is neither read nor
// written: root running with another user's HOME must not take its desired
// state from that user.
package evalcache

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"cuelang.org/go/cue/parser"

	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/schema/input"
)

// format changes whenever an entry's meaning does.
const format = "drsync-evalcache-1"

// keep is how many entries a directory holds: one per file, tag set and
// host a user plans, and a few left behind by upgrades.
const keep = 64

// Load returns the desired state at path with tags for host (any string
// that tells hosts apart, such as "hostname=nas"), from the cache when an
// entry matches, else from evaluate, whose result is then cached. Errors
// are never cached, and the cache failing only costs the time it saves.
func Load(path string, tags []string, host string, evaluate func() (*schema.Desired, error)) (*schema.Desired, error) {
	dir := cacheDir()
	if dir == "" {
		return evaluate()
	}
	k, err := keyOf(path, tags, host)
	if err != nil || k.uncacheable != "" {
		if err != nil {
			slog.Debug("desired-state cache: not used", "err", err)
		} else {
			slog.Debug("desired-state cache: not used", "reason", k.uncacheable)
		}
		return evaluate()
	}
	r, err := openDir(dir)
	if err != nil {
		slog.Debug("desired-state cache: not used", "err", err)
		return evaluate()
	}
	defer r.Close()
	if d := lookup(r, k); d != nil {
		d.Source = path
		return d, nil
	}
	d, err := evaluate()
	if err != nil {
		return nil, err
	}
	// A file edited while CUE read it: what was evaluated may not be what
	// was hashed, so it is not kept.
	if again, err := keyOf(path, tags, host); err != nil || again != k {
		return d, nil
	}
	if err := store(r, k, d); err != nil {
		slog.Debug("desired-state cache: not stored", "err", err)
	}
	return d, nil
}

// cacheDir is where entries live ("" when caching is off or there is no
// cache directory).
func cacheDir() string {
	switch env := os.Getenv("DRSYNC_CACHE"); env {
	case "off":
		return ""
	case "":
		base, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(base, "drsync", "desired")
	default:
		return env
	}
}

// key names an entry (name) and what its files must hash to (inputs).
type key struct {
	name, inputs string
	// uncacheable says why the files cannot be cached ("" when they can).
	uncacheable string
}

func keyOf(path string, tags []string, host string) (key, error) {
	exe, err := os.Executable()
	if err != nil {
		return key{}, err
	}
	st, err := os.Stat(exe)
	if err != nil {
		return key{}, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return key{}, errors.New("no device and inode for the executable")
	}
	files, err := input.Files(path)
	if err != nil {
		return key{}, err
	}
	name, inputs := sha256.New(), sha256.New()
	field := func(h io.Writer, s string) { fmt.Fprintf(h, "%d:%s\n", len(s), s) }
	field(name, format)
	field(name, fmt.Sprintf("%d/%d/%d/%d", sys.Dev, sys.Ino, st.Size(), st.ModTime().UnixNano()))
	field(name, host)
	field(name, strconv.Itoa(len(tags)))
	for _, t := range tags {
		field(name, t)
	}
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return key{}, err
		}
		src, err := os.ReadFile(f)
		if err != nil {
			return key{}, err
		}
		if why := outsideInputs(f, src); why != "" {
			return key{uncacheable: why}, nil
		}
		field(name, abs)
		field(inputs, string(src))
	}
	return key{name: hex.EncodeToString(name.Sum(nil)[:16]) + ".json", inputs: hex.EncodeToString(inputs.Sum(nil))}, nil
}

// outsideInputs says why a file's value may depend on more than its own
// text and the tags: an import from outside CUE's standard library (whose
// paths have no dot in their first element), or an embedding. Files CUE
// cannot parse are left to the evaluation to report.
func outsideInputs(name string, src []byte) string {
	if bytes.Contains(src, []byte("@embed")) || bytes.Contains(src, []byte("@extern")) {
		return name + " embeds files"
	}
	f, err := parser.ParseFile(name, src, parser.ImportsOnly)
	if err != nil {
		return name + " does not parse"
	}
	for spec := range f.ImportSpecs() {
		p, err := strconv.Unquote(spec.Path.Value)
		if err != nil || strings.Contains(strings.Split(p, "/")[0], ".") {
			return name + " imports " + spec.Path.Value
		}
	}
	return ""
}

// entry is a cached evaluation.
type entry struct {
	Inputs  string          `json:"inputs"`
	Desired *schema.Desired `json:"desired"`
}

// openDir opens the cache directory, creating it, if it is this user's
// alone.
func openDir(dir string) (*os.Root, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	st, err := r.Stat(".")
	if err == nil {
		err = ownedAlone(st)
	}
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return r, nil
}

// ownedAlone refuses what another user owns or may write.
func ownedAlone(st fs.FileInfo) error {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return errors.New("no owner")
	}
	if int(sys.Uid) != os.Geteuid() {
		return fmt.Errorf("owned by uid %d, not %d", sys.Uid, os.Geteuid())
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("writable by others (%v)", st.Mode().Perm())
	}
	return nil
}

// lookup returns the entry's desired state when it matches k (nil
// otherwise).
func lookup(r *os.Root, k key) *schema.Desired {
	f, err := r.OpenFile(k.name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || ownedAlone(st) != nil {
		slog.Debug("desired-state cache: entry refused", "entry", filepath.Join(r.Name(), k.name))
		return nil
	}
	var e entry
	if err := json.NewDecoder(f).Decode(&e); err != nil || e.Inputs != k.inputs || e.Desired == nil {
		return nil
	}
	return e.Desired
}

// store writes the entry whole (a temporary file renamed over it) and
// trims the directory to the newest entries.
func store(r *os.Root, k key, d *schema.Desired) error {
	b, err := json.Marshal(entry{Inputs: k.inputs, Desired: d})
	if err != nil {
		return err
	}
	tmp := k.name + ".tmp" + strconv.Itoa(os.Getpid())
	f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.Rename(tmp, k.name)
	}
	if err != nil {
		r.Remove(tmp)
		return err
	}
	return trim(r)
}

// trim removes all but the keep newest entries.
func trim(r *os.Root) error {
	d, err := r.Open(".")
	if err != nil {
		return err
	}
	ents, err := d.ReadDir(-1)
	d.Close()
	if err != nil || len(ents) <= keep {
		return err
	}
	type aged struct {
		name  string
		mtime int64
	}
	var all []aged
	for _, e := range ents {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			all = append(all, aged{e.Name(), info.ModTime().UnixNano()})
		}
	}
	slices.SortFunc(all, func(a, b aged) int { return cmp.Compare(b.mtime, a.mtime) })
	for _, a := range all[min(keep, len(all)):] {
		if err := r.Remove(a.name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
