package diag

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"cuelang.org/go/cue"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"
)

// SchemaFile is the name the embedded schema is compiled under: a position
// in it is the last resort, after any position in the user's files.
const SchemaFile = "schema/drsync.cue"

// PosIn is where the user wrote the value at p, or the nearest field above
// it the user wrote; the unified value's own position (possibly in the
// embedded schema) only when the user wrote nothing on the way.
func PosIn(user, v cue.Value, p cue.Path) string {
	if pos := v.LookupPath(p).Pos(); pos.IsValid() && pos.Filename() != SchemaFile {
		return formatPos(pos)
	}
	for sel := p.Selectors(); len(sel) > 0; sel = sel[:len(sel)-1] {
		if pos := user.LookupPath(cue.MakePath(sel...)).Pos(); pos.IsValid() && pos.Filename() != SchemaFile {
			return formatPos(pos)
		}
	}
	return PosOf(v.LookupPath(p))
}

// StartOf positions a problem with the whole state: where the user's value
// starts, else the first line of the file.
func StartOf(path string, user cue.Value) string {
	if pos := user.Pos(); pos.IsValid() && pos.Filename() != SchemaFile {
		return formatPos(pos)
	}
	return RelName(path) + ":1:1"
}

// UserPos positions a struct at the first of its fields the user wrote,
// not at the schema's pattern that admitted it.
func UserPos(v cue.Value) string {
	if p := v.Pos(); p.IsValid() && p.Filename() != SchemaFile {
		return formatPos(p)
	}
	if it, err := v.Fields(); err == nil {
		for it.Next() {
			if pos := UserPos(it.Value()); pos != "" && !strings.HasPrefix(pos, SchemaFile) {
				return pos
			}
		}
	}
	return PosOf(v)
}

// PosOf is v's own position, or "" when it has none.
func PosOf(v cue.Value) string {
	if p := v.Pos(); p.IsValid() {
		return formatPos(p)
	}
	return ""
}

// formatPos writes p as file:line:col.
func formatPos(p token.Pos) string {
	return fmt.Sprintf("%s:%d:%d", RelName(p.Filename()), p.Line(), p.Column())
}

// RelName is a file's name relative to the working directory when it lies
// below it, as the user most likely typed it.
func RelName(name string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, name); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return name
}

// bestPos positions a CUE error: in the user's files where possible, at
// the field the user wrote on the error's path, else in the schema.
func bestPos(e cueerrors.Error, user cue.Value, path []string) string {
	positions := append([]token.Pos{e.Position()}, e.InputPositions()...)
	if user.Exists() && len(path) > 0 {
		for p := cue.ParsePath(strings.Join(path, ".")); len(p.Selectors()) > 0; p = cue.MakePath(p.Selectors()[:len(p.Selectors())-1]...) {
			if pos := user.LookupPath(p).Pos(); pos.IsValid() {
				positions = append(positions, pos)
				break
			}
		}
	}
	var fallback string
	for _, p := range positions {
		if !p.IsValid() {
			continue
		}
		s := formatPos(p)
		if p.Filename() != SchemaFile {
			return s
		}
		if fallback == "" {
			fallback = s
		}
	}
	return fallback
}
