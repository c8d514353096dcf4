// Package schema embeds the CUE schema of the desired state, loads a user's
// CUE files against it (with -t tag injection as `cue export -t` does),
// decodes the result into Desired and checks what CUE's types cannot.
// Every error names file:line:col. Reading the user's files is package
// input's job; wording and positioning problems is package diag's.
package schema

import (
	"embed"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	"cuelang.org/go/cue"

	"github.com/drsync/drsync/schema/diag"
	"github.com/drsync/drsync/schema/input"
)

//go:embed *.cue
var Files embed.FS

// Error is the positioned error Load returns for a desired state with
// problems; Problem is one of them (see package diag).
type (
	Error   = diag.Error
	Problem = diag.Problem
)

// Load reads a desired-state file, or a directory holding the .cue files of
// one package, unifies it with #Desired and decodes it. tags are
// "key=value" strings injected into @tag() fields.
func Load(path string, tags []string) (*Desired, error) {
	return LoadHost(path, tags, "")
}

// LoadHost is Load for the machine called host: in a fleet file (one that
// declares hosts) it reads that host's part; an empty host in a fleet file
// is an error naming the hosts to choose from.
func LoadHost(path string, tags []string, host string) (*Desired, error) {
	v, user, err := loadValue(path, tags, host)
	if err != nil {
		return nil, err
	}
	var d Desired
	if err := v.Decode(&d); err != nil {
		// Decoding fails on what CUE's types allow but Go cannot hold (an
		// integer beyond 64 bits): find the field, in the user's file.
		if probs := leafProblems(v, user); len(probs) > 0 {
			diag.Sort(probs)
			return nil, &Error{Problems: probs}
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d.Source = path
	if host != "" {
		d.Host = host
	}
	d.clean()
	if len(d.Subvolumes) == 0 && len(d.Services) == 0 {
		return nil, &Error{Problems: []Problem{{Pos: diag.StartOf(path, user),
			Message: "declares no subvolumes and no services: nothing to back up (is this the desired state?)"}}}
	}
	if probs := append(append(append(references(v, user), targetReferences(v)...), d.check(v, user)...), append(d.checkAlerting(v), d.checkRecovery(v, user)...)...); len(probs) > 0 {
		diag.Sort(probs)
		return nil, &Error{Problems: probs}
	}
	return &d, nil
}

// loadValue returns the unified, validated value of one host (see
// input.SelectHost) and the user's own value (whose positions are the user's
// files).
func loadValue(path string, tags []string, host string) (unified, user cue.Value, err error) {
	if user, err = input.Read(path, tags, schemaFields); err != nil {
		return cue.Value{}, cue.Value{}, err
	}
	src, err := Files.ReadFile("drsync.cue")
	if err != nil {
		return cue.Value{}, cue.Value{}, fmt.Errorf("reading embedded schema: %w", err)
	}
	schema := user.Context().CompileBytes(src, cue.Filename(diag.SchemaFile))
	if schema.Err() != nil {
		return cue.Value{}, cue.Value{}, fmt.Errorf("embedded schema: %w", schema.Err())
	}
	if user, err = input.SelectHost(user, path, host); err != nil {
		return cue.Value{}, cue.Value{}, err
	}
	v := schema.LookupPath(cue.ParsePath("#Desired")).Unify(userDefaults(user))
	if invalid := v.Validate(cue.Concrete(true)); invalid != nil {
		// Report the broken references too, so one pass shows everything.
		err := diag.FromCUE(invalid, user, schemaFields())
		if e, ok := err.(*Error); ok {
			e.Problems = append(append(e.Problems, references(user, user)...), targetReferences(user)...)
			diag.Sort(e.Problems)
		}
		return cue.Value{}, cue.Value{}, err
	}
	return v, user, nil
}

// Export writes the embedded schema into dir and returns the file's path.
func Export(dir string) (string, error) {
	src, err := Files.ReadFile("drsync.cue")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("schema export: %w", err)
	}
	path := filepath.Join(dir, "drsync.cue")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		return "", fmt.Errorf("schema export: %w", err)
	}
	return path, nil
}

// fieldName finds the field names the schema declares.
var fieldName = regexp.MustCompile(`(?m)^\s*([a-zA-Z]+)\??:`)

// schemaFields returns the field names the schema declares, from which a
// misspelt field gets a suggestion. Only errors need them: matching the
// schema's 19 KB took a tenth of a load.
func schemaFields() []string {
	src, err := Files.ReadFile("drsync.cue")
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range fieldName.FindAllStringSubmatch(string(src), -1) {
		out = append(out, m[1])
	}
	return out
}

// walk calls fn for every regular leaf of v (lists are leaves).
func walk(v cue.Value, path []cue.Selector, fn func(cue.Path, cue.Value)) {
	if v.IncompleteKind() == cue.StructKind {
		if it, err := v.Fields(); err == nil {
			for it.Next() {
				walk(it.Value(), append(slices.Clone(path), it.Selector()), fn)
			}
			return
		}
	}
	fn(cue.MakePath(path...), v)
}

// userDefaults settles the user's own defaults before the schema's are
// met. `url: *"http://127.0.0.1:19391" | string @tag(prom_url)` against the
// schema's `url: string | *"http://localhost:9090"` is otherwise two
// defaults CUE cannot choose between ("incomplete value"): the user's wins.
// A tag still wins over both: it was injected before.
func userDefaults(user cue.Value) cue.Value {
	out := user
	walk(user, nil, func(p cue.Path, leaf cue.Value) {
		if d, ok := leaf.Default(); ok && d.IsConcrete() {
			out = out.FillPath(p, d)
		}
	})
	return out
}

// durationFields are the fields decoded with ParseDuration.
var durationFields = map[string]bool{"rpo": true, "rto": true, "every": true, "keepFailed": true}

// leafProblems finds, with their positions, the values CUE accepts but
// Go cannot decode: integers beyond 64 bits, durations beyond 290 years,
// schedules the parser refuses.
func leafProblems(v, user cue.Value) []Problem {
	var probs []Problem
	walk(v, nil, func(p cue.Path, leaf cue.Value) {
		sel := p.Selectors()
		if len(sel) == 0 {
			return
		}
		field := sel[len(sel)-1].Unquoted()
		var msg string
		switch {
		case leaf.Kind() == cue.IntKind:
			if _, err := leaf.Int64(); err != nil {
				msg = fmt.Sprintf("%v is too large (at most %d)", leaf, int64(math.MaxInt64))
			}
		case leaf.Kind() == cue.StringKind && field == "schedule":
			s, _ := leaf.String()
			if _, err := ParseSchedule(s); err != nil {
				msg = err.Error()
			}
		case leaf.Kind() == cue.StringKind && durationFields[field]:
			s, _ := leaf.String()
			if _, err := ParseDuration(s); err != nil {
				msg = err.Error()
			}
		}
		if msg != "" {
			probs = append(probs, Problem{Pos: diag.PosIn(user, v, p), Path: p.String(), Message: msg})
		}
	})
	return probs
}
