// Package evidence reads and writes what a run leaves for people: the
// generated files (read as they are on disk, so that only what changed is
// written; replaced atomically, never through a symlink), the evidence
// among them rewritten after every run (the metrics textfile, the
// runbooks), and the report files of the run's tests and drills.
package evidence

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"github.com/drsync/drsync/internal/safefs"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// WriteFile writes content atomically: a temp file in the same directory,
// synced, then renamed over path, so a reader or a crash never sees half
// a file. A symlink at path or on the way to it is refused, not followed.
func WriteFile(path string, content []byte) error {
	return safefs.ReplaceFile(path, content, 0o644)
}

// Write rewrites the rendered files that carry evidence and that
// want(path) selects, when they differ from what o saw on disk: the
// metrics textfile (always: its ages move with the clock) and the
// runbooks (last tested, success rate, measured RTO). Other generated
// files change only through plan and apply.
func Write(files map[string][]byte, o *model.Observed, want func(path string) bool) error {
	for _, path := range slices.Sorted(maps.Keys(files)) {
		content := files[path]
		if _, refused := o.RefusedFiles[path]; !want(path) || refused || o.Files[path] == string(content) {
			continue
		}
		if err := WriteFile(path, content); err != nil {
			return err
		}
	}
	return nil
}

// IsRunbook reports whether path is one of d's runbooks.
func IsRunbook(d *schema.Desired, path string) bool {
	return d.Generate.Runbooks != "" && strings.HasPrefix(path, d.Generate.Runbooks+"/")
}

// ReadFiles reads the generated files as they are on disk; a missing
// one is absent from the map. A symlink (at the file or on the way to it),
// or anything but a regular file, is refused and never read: generated
// files often live in users' directories, and following a link there would
// put a root-only file's content in the plan's diff and the journal.
func ReadFiles(paths []string) (files, refused map[string]string, err error) {
	files, refused = map[string]string{}, map[string]string{}
	for _, p := range paths {
		b, err := safefs.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case errors.Is(err, safefs.ErrSymlink), errors.Is(err, safefs.ErrNotRegular):
			refused[p] = err.Error()
		case err != nil:
			return nil, nil, fmt.Errorf("generated file: %w", err)
		default:
			files[p] = string(b)
		}
	}
	if len(refused) == 0 {
		refused = nil
	}
	return files, refused, nil
}
