package schema

import (
	"fmt"
	"math"
	"slices"

	"cuelang.org/go/cue"
)

// posIn is where the user wrote the value at p, or the nearest field above
// it the user wrote; the unified value's own position (possibly in the
// embedded schema) only when the user wrote nothing on the way.
func posIn(user, v cue.Value, p cue.Path) string {
	if pos := v.LookupPath(p).Pos(); pos.IsValid() && pos.Filename() != SchemaFile {
		return formatPos(pos)
	}
	for sel := p.Selectors(); len(sel) > 0; sel = sel[:len(sel)-1] {
		if pos := user.LookupPath(cue.MakePath(sel...)).Pos(); pos.IsValid() && pos.Filename() != SchemaFile {
			return formatPos(pos)
		}
	}
	return posOf(v.LookupPath(p))
}

// startOf positions a problem with the whole state: where the user's value
// starts, else the first line of the file.
func startOf(path string, user cue.Value) string {
	if pos := user.Pos(); pos.IsValid() && pos.Filename() != SchemaFile {
		return formatPos(pos)
	}
	return relName(path) + ":1:1"
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
			probs = append(probs, Problem{Pos: posIn(user, v, p), Path: p.String(), Message: msg})
		}
	})
	return probs
}
