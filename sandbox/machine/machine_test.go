package machine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Only a desired state that declares the s3_endpoint tag gets a free
// loopback endpoint.
func TestFreeS3Tag(t *testing.T) {
	dir := t.TempDir()
	with, without := filepath.Join(dir, "with.cue"), filepath.Join(dir, "without.cue")
	for path, src := range map[string]string{
		with:    "endpoint: *\"https://s3.example\" | string @tag(s3_endpoint)\n",
		without: "endpoint: \"https://s3.example\"\n",
	} {
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tags, err := FreeS3Tag(with)
	if err != nil || len(tags) != 1 || !strings.HasPrefix(tags[0], "s3_endpoint=http://127.0.0.1:") {
		t.Errorf("with the tag: %q %v", tags, err)
	}
	if tags, err := FreeS3Tag(without); err != nil || tags != nil {
		t.Errorf("without the tag: %q %v", tags, err)
	}
	if _, err := FreeS3Tag(filepath.Join(dir, "missing.cue")); err == nil {
		t.Error("a missing file is no error")
	}
}
