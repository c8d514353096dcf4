package prometheus_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drsync/drsync/providers/prometheus"
)

// TestServeRestoredTSDB starts the real Prometheus over a copy of a
// snapshot, as a service drill does over a restored archive, and finds the
// scraped series in it; a copy whose chunks were cut short (which promtool
// tsdb list passes) or whose index is gone is not served.
func TestServeRestoredTSDB(t *testing.T) {
	t.Parallel()
	s := start(t, true, true)
	ctx := context.Background()
	waitFor(t, 30*time.Second, "three scrapes ingested", func() (bool, string) {
		n, err := query(s, "count_over_time(up[1m])")
		return err == nil && n >= 3, fmt.Sprint(n, err)
	})
	snap, err := prometheus.Snapshot(ctx, s.url, s.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	restore := func(t *testing.T) (tsdb, work, block string) {
		work = t.TempDir()
		tsdb = filepath.Join(work, "tsdb")
		if err := os.CopyFS(tsdb, os.DirFS(snap)); err != nil {
			t.Fatal(err)
		}
		metas, err := filepath.Glob(filepath.Join(tsdb, "*", "meta.json"))
		if err != nil || len(metas) != 1 {
			t.Fatalf("meta.json files %v, %v", metas, err)
		}
		return tsdb, work, filepath.Dir(metas[0])
	}

	t.Run("intact", func(t *testing.T) {
		tsdb, work, _ := restore(t)
		got, err := prometheus.Serve(ctx, tsdb, work)
		if err != nil {
			t.Fatal(err)
		}
		if got.Metric != "up" || got.Series != 1 || got.Samples < 3 {
			t.Errorf("served %+v, want up with 1 series and at least 3 samples", got)
		}
		if !got.From.Before(got.To) || got.To.After(time.Now()) {
			t.Errorf("range %s to %s is not the snapshot's", got.From, got.To)
		}
		assertNoPrometheusOn(t, tsdb)
	})

	for name, damage := range map[string]func(block string) error{
		"chunks cut short": func(block string) error { return os.Truncate(filepath.Join(block, "chunks", "000001"), 9) },
		"index deleted":    func(block string) error { return os.Remove(filepath.Join(block, "index")) },
	} {
		t.Run(name, func(t *testing.T) {
			tsdb, work, block := restore(t)
			if err := damage(block); err != nil {
				t.Fatal(err)
			}
			got, err := prometheus.Serve(ctx, tsdb, work)
			if !errors.Is(err, prometheus.ErrNotServed) {
				t.Fatalf("Serve of a TSDB with its %s = %+v, %v; want ErrNotServed", name, got, err)
			}
			t.Log(err)
			assertNoPrometheusOn(t, tsdb)
		})
	}
}

// assertNoPrometheusOn fails when a process still serves tsdb: Serve must
// stop what it started.
func assertNoPrometheusOn(t *testing.T, tsdb string) {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), "--storage.tsdb.path="+tsdb+"\x00") {
			var pid int
			fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("prometheus over %s still runs (pid %d)", tsdb, pid)
		}
	}
}
