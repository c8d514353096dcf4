package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestSampleSizeFlagBounded is issue 14 item 1 for the flag: a huge
// --sample-size is refused before anything is sampled.
func TestSampleSizeFlagBounded(t *testing.T) {
	var out bytes.Buffer
	code := run([]string{"test", "--sample-size", "2000000000000", "-f", "../../testdata/desired/small.cue"}, strings.NewReader(""), &out, &out)
	if code == 0 || !strings.Contains(out.String(), "--sample-size 2000000000000: must be 1 to 100000") {
		t.Errorf("exit %d:\n%s", code, out.String())
	}
}
