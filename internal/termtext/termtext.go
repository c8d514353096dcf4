// Package termtext makes values safe to print to a terminal: a file name
// may hold escape sequences that would recolour, retitle or rewrite the
// screen of whoever reads drsync's output.
package termtext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape returns s unchanged when it holds only printable text; otherwise
// every control character (C0, DEL, C1) and every byte that is not UTF-8
// is written as \xNN, and backslashes are doubled so the escapes cannot be
// confused with a name that holds them literally.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case isControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	return strings.ContainsFunc(s, isControl)
}

func isControl(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f)
}
