// Package genfile is the syntax the generated files share: quoting that
// keeps a path in a header comment or a systemd setting from starting a
// line of its own, and YAML encoded under a header comment.
package genfile

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// plainChars never need quoting in a shell, a systemd command line or a
// comment.
const plainChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:@,"

func isPlain(s string) bool {
	return s != "" && strings.Trim(s, plainChars) == ""
}

// CommentText is s as it may appear in a one-line comment of a generated
// file: quoted in Go's syntax when it holds anything but plain characters,
// so a newline in a path can never start a directive of its own.
func CommentText(s string) string {
	if isPlain(s) {
		return s
	}
	return strconv.Quote(s)
}

// SystemdWord quotes one word of an ExecStart= command line so that systemd
// passes it to the program unchanged: within double quotes systemd
// C-unescapes (so \ and " are escaped and control characters are written
// as \xNN), expands specifiers at load time (% doubles) and environment
// variables at exec time ($ doubles).
func SystemdWord(s string) string {
	if isPlain(s) {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\\' || r == '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '%':
			b.WriteString("%%")
		case r == '$':
			b.WriteString("$$")
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// SystemdText is s in a free-text setting such as Description=: specifiers
// are expanded there (% doubles), a backslash at the end of a line would
// continue it (\ doubles), and control characters are shown as \xNN
// instead of ending the line.
func SystemdText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '%':
			b.WriteString("%%")
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// SystemdFileURL is a file:// URL for Documentation=: percent-encoded, so
// spaces and quotes cannot split it, with the % of the encoding doubled
// because systemd expands specifiers in the setting.
func SystemdFileURL(path string) string {
	u := url.URL{Scheme: "file", Path: path}
	return strings.ReplaceAll(u.String(), "%", "%%")
}
