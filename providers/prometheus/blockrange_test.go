package prometheus_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drsync/drsync/providers/prometheus"
)

// The range of a TSDB comes from its blocks' meta.json files; directories
// without one (wal, chunks_head) are not blocks, and a meta.json that is not
// JSON makes the TSDB one a drill would not serve, before Prometheus starts.
func TestRangeOfBlocks(t *testing.T) {
	dir := t.TempDir()
	block := func(name, meta string) {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		if meta != "" {
			if err := os.WriteFile(filepath.Join(dir, name, "meta.json"), []byte(meta), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	block("wal", "")
	block("01A", `{"minTime": 1000, "maxTime": 5000}`)
	block("01B", `{"minTime": 4000, "maxTime": 9000}`)
	from, to, err := prometheus.Range(dir)
	if err != nil || !from.Equal(time.UnixMilli(1000)) || !to.Equal(time.UnixMilli(9000)) {
		t.Fatalf("Range = %s, %s, %v; want 1s to 9s", from, to, err)
	}
	block("01C", `{"minTime":`)
	if _, _, err := prometheus.Range(dir); err == nil {
		t.Fatal("Range read a block whose meta.json is cut short")
	}
	if _, err := prometheus.Serve(context.Background(), dir, t.TempDir()); !errors.Is(err, prometheus.ErrNotServed) {
		t.Errorf("Serve of a TSDB with a broken meta.json: %v, want ErrNotServed", err)
	}
}
