package shellwords

import (
	"os/exec"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/home/patriark/.snapshots": "/home/patriark/.snapshots",
		"/mnt/my disk":              "'/mnt/my disk'",
		"it's":                      `'it'\''s'`,
		"":                          "''",
		"a\nb'c\\":                  `$'a\x0ab\'c\\'`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %q, want %q", in, got, want)
		}
		if in != "" && !strings.ContainsAny(in, "\n") && strings.Join(Split(Quote(in)), "|") != in {
			t.Errorf("%q does not round-trip through Split", in)
		}
	}
}

// TestQuoteInBash hands quoted words to a real shell, the consumer of a
// pasted command, and wants each back byte for byte.
func TestQuoteInBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skipf("bash not installed: %v", err)
	}
	for _, in := range []string{"/mnt/my disk", "it's", `100% $HOME ${X} \back\ "dq" ;|&<>()`, "esc\x1b[31m and\nnewline\ttab", "`id`", "*?[a]~"} {
		out, err := exec.Command(bash, "-c", "printf %s "+Quote(in)).Output()
		if err != nil {
			t.Errorf("%q: bash: %v", in, err)
			continue
		}
		if string(out) != in {
			t.Errorf("bash read %q back as %q", in, out)
		}
	}
}
