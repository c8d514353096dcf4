// Package diag words and positions the problems found in a desired state:
// each one reads "file:line:col: path: message", positioned where the user
// wrote the field rather than in the embedded schema, and CUE's own
// messages are rewritten into what the user can do about them.
package diag

import (
	"sort"
	"strconv"
	"strings"
)

// Error is a list of positioned problems in a desired state.
type Error struct {
	Problems []Problem
}

// Problem is one positioned message: "file:line:col: path: message".
type Problem struct {
	Pos     string `json:"pos,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Pos != "" {
		b.WriteString(p.Pos + ": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Sort orders problems by file position (line, then column), the order a
// person reads the file in.
func Sort(probs []Problem) {
	sort.SliceStable(probs, func(i, j int) bool {
		fi, li, ci := splitPos(probs[i].Pos)
		fj, lj, cj := splitPos(probs[j].Pos)
		if fi != fj {
			return fi < fj
		}
		if li != lj {
			return li < lj
		}
		return ci < cj
	})
}

func splitPos(pos string) (file string, line, col int) {
	parts := strings.Split(pos, ":")
	if len(parts) < 3 {
		return pos, 0, 0
	}
	line, _ = strconv.Atoi(parts[len(parts)-2])
	col, _ = strconv.Atoi(parts[len(parts)-1])
	return strings.Join(parts[:len(parts)-2], ":"), line, col
}

// ListOr lists the declared names a message offers instead of an unknown
// one, or "none".
func ListOr(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
