package genfile

import (
	"testing"
)

func TestSystemdWord(t *testing.T) {
	for in, want := range map[string]string{
		"/etc/drsync/drsync.cue": "/etc/drsync/drsync.cue",
		"/etc/my drsync/a.cue":   `"/etc/my drsync/a.cue"`,
		"/etc/100%/$x":           `"/etc/100%%/$$x"`,
		`/a"b\c`:                 `"/a\"b\\c"`,
		"/a\nb":                  `"/a\x0ab"`,
	} {
		if got := SystemdWord(in); got != want {
			t.Errorf("SystemdWord(%q) = %q, want %q", in, got, want)
		}
	}
}
