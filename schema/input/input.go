// Package input reads a desired state as the user wrote it: the CUE files
// of a path, with -t tags injected into @tag() fields as `cue export -t`
// does, and in a fleet file the part of one host. Problems come back as a
// *diag.Error positioned in the user's files.
package input

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/load"

	"github.com/drsync/drsync/schema/diag"
)

// DefaultFile is read when no -f is given.
const DefaultFile = "drsync.cue"

// Read builds the user's files at path (a file, or a directory holding
// the .cue files of one package), with tags ("key=value"), as written.
// fields returns the schema's field names, for suggestions in CUE's
// errors; it is called only when there is an error to word.
func Read(path string, tags []string, fields func() []string) (cue.Value, error) {
	files, err := Files(path)
	if err != nil {
		return cue.Value{}, err
	}
	insts := load.Instances(files, &load.Config{Tags: tags})
	if len(insts) != 1 {
		return cue.Value{}, fmt.Errorf("%s: expected one CUE package, found %d", path, len(insts))
	}
	if insts[0].Err != nil {
		if e := undeclaredTag(insts[0].Err, files); e != nil {
			return cue.Value{}, e
		}
		return cue.Value{}, diag.FromCUE(insts[0].Err, cue.Value{}, fields())
	}
	user := cuecontext.New().BuildInstance(insts[0])
	if user.Err() != nil {
		return cue.Value{}, diag.FromCUE(user.Err(), user, fields())
	}
	return user, nil
}

// noTag is CUE's complaint about a -t key no @tag() in the files declares.
var noTag = regexp.MustCompile(`no tag for "([^"]*)"`)

// undeclaredTag turns CUE's `no tag for "root"` into what the user can do
// about it, positioned at the file, or returns nil for other errors.
func undeclaredTag(err error, files []string) error {
	m := noTag.FindStringSubmatch(err.Error())
	if m == nil {
		return nil
	}
	where := files[0]
	if len(files) > 1 {
		where = filepath.Dir(files[0])
	}
	return &diag.Error{Problems: []diag.Problem{{Pos: diag.RelName(files[0]) + ":1:1",
		Message: fmt.Sprintf("-t %s=…: the tag %q is not declared by %s; declare it, e.g. %s: *\"\" | string @tag(%s)", m[1], m[1], where, m[1], m[1])}}}
}

// Files expands a directory into its .cue files so that a directory
// needs no cue.mod of its own: the files Read reads, sorted.
func Files(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		if os.IsNotExist(err) && path == DefaultFile {
			return nil, fmt.Errorf("no %s here; name a desired-state file with -f FILE", DefaultFile)
		}
		return nil, fmt.Errorf("desired state: %w", err)
	}
	if !st.IsDir() {
		if filepath.Ext(path) != ".cue" {
			return nil, fmt.Errorf("%s: not a .cue file: drsync reads CUE (convert YAML or JSON with `cue import`)", path)
		}
		return []string{path}, nil
	}
	matches, err := filepath.Glob(filepath.Join(path, "*.cue"))
	if err != nil {
		return nil, err
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("%s: no .cue files in directory", path)
	}
	sort.Strings(matches)
	return matches, nil
}
