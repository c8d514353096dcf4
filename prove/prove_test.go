package prove

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Failed tests' scratch is kept for inspection, then removed after the
// keep period; nothing else under the scratch root is touched.
func TestCleanScratch(t *testing.T) {
	root := t.TempDir()
	now := time.Now()
	old := filepath.Join(root, scratchPrefix+"docs-20261101T010000-1")
	recent := filepath.Join(root, scratchPrefix+"docs-20261121T010000-2")
	mine := filepath.Join(root, "operator-notes")
	for _, d := range []string{old, recent, mine} {
		if err := os.MkdirAll(filepath.Join(d, "x"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{old, mine} {
		os.Chtimes(d, now.Add(-30*24*time.Hour), now.Add(-30*24*time.Hour))
	}
	p := &Prover{KeepFailed: 7 * 24 * time.Hour, Now: func() time.Time { return now }}
	fd, err := p.prepareScratch(root)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("old failed scratch kept: %v", err)
	}
	for _, d := range []string{recent, mine} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s removed: %v", d, err)
		}
	}
	fd, err = p.prepareScratch(filepath.Join(root, "missing"))
	if err != nil {
		t.Errorf("a missing scratch root: %v", err)
	}
	unix.Close(fd)
}
