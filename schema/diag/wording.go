package diag

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"cuelang.org/go/cue"
	cueerrors "cuelang.org/go/cue/errors"
)

// FromCUE turns CUE's errors into an *Error, one Problem per error,
// positioned in the user's files where possible: an error raised by a
// schema constraint is moved to where the user wrote the offending field.
// fields are the field names the schema declares, from which a misspelt
// field gets a suggestion. An error without CUE errors is returned as is.
func FromCUE(err error, user cue.Value, fields []string) error {
	var probs []Problem
	seen := map[string]bool{}
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		path := e.Path()
		if len(path) > 0 && path[0] == "#Desired" {
			path = path[1:]
		}
		p := Problem{
			Pos:     bestPos(e, user, path),
			Path:    strings.Join(path, "."),
			Message: fmt.Sprintf(format, args...),
		}
		if p.Message == "" {
			p.Message = e.Error()
		}
		p.Message = friendlier(p.Message, path, fields)
		if key := p.String(); !seen[key] {
			seen[key] = true
			probs = append(probs, p)
		}
	}
	if len(probs) == 0 {
		return err
	}
	return &Error{Problems: withoutDisjunctionNoise(probs)}
}

// disjunctionNoise is what CUE adds when a user's value fails a field that
// also has a schema default: "2 errors in empty disjunction:" and the
// conflict with the default nobody wrote.
var disjunctionNoise = regexp.MustCompile(`^(\d+ errors in empty disjunction:?|conflicting values .* and .*)$`)

// withoutDisjunctionNoise drops that noise for a field that has a real
// problem of its own.
func withoutDisjunctionNoise(probs []Problem) []Problem {
	real := map[string]bool{}
	for _, p := range probs {
		if !disjunctionNoise.MatchString(p.Message) {
			real[p.Path] = true
		}
	}
	out := probs[:0]
	for _, p := range probs {
		if !real[p.Path] || !disjunctionNoise.MatchString(p.Message) {
			out = append(out, p)
		}
	}
	return out
}

// hints replace a pattern's regular expression, which explains nothing to
// a person, by what the field wants; keyed by the field's name.
var hints = map[string]string{
	"schedule":   `a schedule: "every 6h", "hourly", "daily 02:00", "weekly sun 03:00" or "monthly 1 04:00"`,
	"rpo":        `a duration like "90m", "36h", "7d" or "2w"`,
	"rto":        `a duration like "90m", "36h", "7d" or "2w"`,
	"every":      `a duration like "90m", "36h", "7d" or "2w"`,
	"keepFailed": `a duration like "90m", "36h", "7d" or "2w"`,
	"min":        `"all", "latest", or an age like "2d" (h, d, w, m, y)`,
	"uuid":       `a filesystem UUID like "4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f" (blkid shows it)`,
	"name":       `a name of letters, digits, ".", "_" and "-", without "/" or ".."`,
}

func friendlier(msg string, path, fields []string) string {
	if len(path) == 0 {
		return msg
	}
	last := path[len(path)-1]
	switch {
	case msg == "field not allowed":
		// The misspelt field is the last one the schema does not know
		// (a nested field below it may be a known name, such as daily).
		for i := len(path) - 1; i >= 0; i-- {
			if slices.Contains(fields, path[i]) {
				continue
			}
			if near := nearestField(path[i], fields); near != "" {
				return fmt.Sprintf("field %q not allowed (did you mean %q?)", path[i], near)
			}
		}
		return msg
	case strings.Contains(msg, " and string (mismatched types") && strings.HasSuffix(msg, "and string)"):
		return msg + ": quote it, names are strings"
	case !strings.Contains(msg, "out of bound =~") && !strings.Contains(msg, "out of bound !~"):
		return msg
	}
	value, _, _ := strings.Cut(strings.TrimPrefix(msg, "invalid value "), " (out of bound")
	switch {
	case strings.Contains(msg, `!~"[[:cntrl:]]"`):
		return fmt.Sprintf("invalid value %s: control characters (newlines, tabs, escape sequences) are not allowed", value)
	case strings.Contains(msg, `!~"[\"'\\\\$]"`):
		return fmt.Sprintf("invalid value %s: systemd runs no program whose path holds a quote, a backslash or a $", value)
	}
	if hint, ok := hints[last]; ok {
		return fmt.Sprintf("invalid value %s: want %s", value, hint)
	}
	if strings.Contains(msg, `=~"^/"`) {
		return fmt.Sprintf("invalid value %s: want an absolute path", value)
	}
	return msg
}

// nearestField suggests one of fields within two edits of a misspelt
// one, or "".
func nearestField(name string, fields []string) string {
	best, bestDist := "", 3
	for _, f := range fields {
		if d := editDistance(strings.ToLower(name), strings.ToLower(f)); d < bestDist && f != name {
			best, bestDist = f, d
		}
	}
	return best
}

// editDistance is Levenshtein's distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
