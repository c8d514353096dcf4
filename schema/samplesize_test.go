package schema

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/drsync/drsync/verify/sample"
)

// TestSampleSizeBounded is issue 14 item 1: sampleSize 2000000000000
// validated, then every apply died out of memory at its first test. The
// schema's bound is sample.MaxSize.
func TestSampleSizeBounded(t *testing.T) {
	maxSize := strconv.Itoa(sample.MaxSize)
	tooMany := strconv.Itoa(sample.MaxSize + 1)
	for size, ok := range map[string]bool{maxSize: true, tooMany: false, "2000000000000": false} {
		dir := t.TempDir()
		file := filepath.Join(dir, "d.cue")
		src := "package x\nlocations: pool: path: \"/pool/.snapshots\"\n" +
			"tiers: \"1\": {rpo: \"7d\", rto: \"1h\", restoreTest: sampleSize: " + size + "}\n" +
			"subvolumes: docs: {tier: \"1\", source: \"/pool/docs\", snapshots: {location: \"pool\", schedule: \"every 6h\", retention: {hourly: 24}}}\n"
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(file, nil)
		switch {
		case ok && err != nil:
			t.Errorf("sampleSize %s: %v", size, err)
		case !ok && err == nil:
			t.Errorf("sampleSize %s accepted", size)
		case !ok && !strings.Contains(err.Error(), "sampleSize"):
			t.Errorf("sampleSize %s: error does not name the field: %v", size, err)
		}
	}
}
