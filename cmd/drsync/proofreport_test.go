package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestProofReportsNameSides is issue 14 item 10 on real btrfs: a failure
// says which copy each value came from, a missing xattr reads "(absent)"
// (never "got )"), and --verbose lists every sampled file with its checks.
func TestProofReportsNameSides(t *testing.T) {
	r := newFaultRig(t)
	xattrRel := someFile(t, r.replica)
	tamper(t, r.replica, func() {
		if err := unix.Lsetxattr(filepath.Join(r.replica, xattrRel), "user.drsync-test", []byte("tampered"), 0); err != nil {
			t.Fatal(err)
		}
	})
	tamper(t, r.local, func() {
		if err := os.WriteFile(filepath.Join(r.local, xattrRel), []byte("not what was sent"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	code, out := r.run("test", "--subvolume", "docs", "--sample-size", "100000", "--verbose")
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	q := regexp.QuoteMeta(xattrRel)
	for _, want := range []string{
		`(?m)^  ✗ ` + q + `: reference:xattr:user\.drsync-test \(local snapshot \(absent\), replica "tampered"\)$`,
		`(?m)^  ✗ ` + q + `: reference:sha256 \(local snapshot [0-9a-f]{64}, replica [0-9a-f]{64}\)$`,
		`(?m)^  ✗ ` + q + `: failed reference:size, reference:sha256, reference:mtime, reference:xattr:user\.drsync-test; passed type, size, sha256, `,
		`(?m)^  ✓ [^:]+: type, size, sha256, mode, owner, mtime, reference:type, reference:size, reference:sha256, `,
		`(?m)^  checks: type, size, sha256, mode, owner, mtime, .*reference:xattrs`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("report lacks %s:\n%s", want, out)
		}
	}
	// A drill compares the local snapshot with the replica received again.
	code, drill := r.run("drill", "--subvolume", "docs")
	if code != 1 {
		t.Fatalf("drill: exit %d\n%s", code, drill)
	}
	for _, want := range []string{
		`(?m)^  ✗ ` + q + `: xattr:user\.drsync-test \(local snapshot \(absent\), restored copy "tampered"\)$`,
		`(?m)^  ✗ ` + q + `: sha256 \(local snapshot [0-9a-f]{64}, restored copy [0-9a-f]{64}\)$`,
		`(?m)^  checks: every entry: type, size, content byte for byte`,
	} {
		if !regexp.MustCompile(want).MatchString(drill) {
			t.Errorf("drill report lacks %s:\n%s", want, drill)
		}
	}
	out += drill
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "  ✗ ") || strings.HasPrefix(line, "  ✓ ") {
			if strings.HasPrefix(line[len("  ✗ "):], ":") || strings.Contains(line, "got )") || strings.Contains(line, r.dir) {
				t.Errorf("empty path, empty value or the sandbox root: %s", line)
			}
		}
	}
}
