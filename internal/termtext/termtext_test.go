package termtext

import "testing"

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"notes/report.txt":       "notes/report.txt",
		`C:\dos`:                 `C:\dos`,
		"résumé ✓.txt":           "résumé ✓.txt",
		"evil\x1b[31mred\x1b[0m": `evil\x1b[31mred\x1b[0m`,
		"two\nlines":             `two\x0alines`,
		"bell\a and \\ back":     `bell\x07 and \\ back`,
		"c1 \u009b2J":            `c1 \x9b2J`,
		"bad \xff byte":          `bad \xff byte`,
		"\x1b]0;title\x07":       `\x1b]0;title\x07`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}
