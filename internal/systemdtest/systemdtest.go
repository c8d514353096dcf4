// Package systemdtest asks systemd itself how it reads a generated unit:
// whether systemd-analyze verify accepts it, and the argv its ExecStart=
// becomes, so tests compare with what systemd would run rather than with
// the text drsync wrote.
package systemdtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/internal/shellwords"
)

// Verify runs systemd-analyze verify on unit and fails the test when it
// exits non-zero or says anything about the unit (verify also checks that
// ExecStart's program exists and is executable).
func Verify(t testing.TB, unit string) {
	t.Helper()
	out, err := analyze(t, unit, false)
	if err != nil || strings.Contains(out, filepath.Base(unit)) {
		b, _ := os.ReadFile(unit)
		t.Errorf("systemd-analyze verify rejects %s: %v\n%s\n%s", filepath.Base(unit), err, b, out)
	}
}

// ExecStart returns the argv systemd would execute for the unit's
// ExecStart=: as systemd parsed it (systemd-analyze dumps it with debug
// logging, shell-quoted by its quote_command_line), after the expansion
// systemd does at exec time, "$$" to "$". A lone "$" would expand a
// variable nobody meant, so it is an error.
func ExecStart(t testing.TB, unit string) ([]string, error) {
	t.Helper()
	out, err := analyze(t, unit, true)
	if err != nil {
		return nil, fmt.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		_, cmdline, ok := strings.Cut(line, "Command Line: ")
		if !ok {
			continue
		}
		var argv []string
		for _, w := range shellwords.Split(cmdline) {
			if strings.Contains(strings.ReplaceAll(w, "$$", ""), "$") {
				return nil, fmt.Errorf("systemd would expand a variable in %q", w)
			}
			argv = append(argv, strings.ReplaceAll(w, "$$", "$"))
		}
		return argv, nil
	}
	return nil, fmt.Errorf("%s: no Command Line in systemd's dump of the unit", unit)
}

func analyze(t testing.TB, unit string, debug bool) (string, error) {
	sa := promtest.Tool(t, "systemd-analyze", "systemd")
	cmd := exec.Command(sa, "verify", "--man=no", unit)
	cmd.Dir = filepath.Dir(unit)
	if debug {
		cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=debug")
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}
