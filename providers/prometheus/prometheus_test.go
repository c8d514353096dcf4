package prometheus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/providers/prometheus"
)

// server is a real Prometheus on loopback, killed at cleanup.
type server struct {
	url, dataDir string
}

// start runs Prometheus until the test ends and waits until it is ready.
// With scrape it scrapes itself every second, so its TSDB fills up.
func start(t *testing.T, adminAPI, scrape bool) server {
	t.Helper()
	promtest.Tool(t, "prometheus", "prometheus")
	addr := promtest.FreeAddr(t)
	dir := t.TempDir()
	cfg := "global:\n  scrape_interval: 1s\n"
	if scrape {
		cfg += fmt.Sprintf("scrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['%s']\n", addr)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s := server{url: "http://" + addr, dataDir: filepath.Join(dir, "data")}
	args := []string{"--config.file=" + filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path=" + s.dataDir, "--web.listen-address=" + addr}
	if adminAPI {
		args = append(args, "--web.enable-admin-api")
	}
	cmd := exec.Command("prometheus", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	})
	waitFor(t, 30*time.Second, "prometheus ready", func() (bool, string) {
		resp, err := http.Get(s.url + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return s
}

// waitFor polls cond until it holds, failing the test after limit with
// cond's last explanation.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s; last: %s", what, limit, last)
}

// query returns the value of a single-sample PromQL query, or -1 when the
// result is empty.
func query(s server, q string) (float64, error) {
	resp, err := http.Get(s.url + "/api/v1/query?query=" + q)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, err
	}
	if len(body.Data.Result) == 0 {
		return -1, nil
	}
	v, _ := body.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(v, 64)
}

func TestSnapshotCheckRemove(t *testing.T) {
	t.Parallel()
	promtest.Tool(t, "promtool", "prometheus")
	s := start(t, true, true)
	ctx := context.Background()

	waitFor(t, 30*time.Second, "three scrapes ingested", func() (bool, string) {
		n, err := query(s, "count_over_time(up[1m])")
		return err == nil && n >= 3, fmt.Sprint(n, err)
	})
	appended, err := query(s, `sum(prometheus_tsdb_head_samples_appended_total)`)
	if err != nil || appended <= 0 {
		t.Fatalf("samples appended: %v, %v", appended, err)
	}

	dir, err := prometheus.Snapshot(ctx, s.url, s.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(dir) != filepath.Join(s.dataDir, "snapshots") {
		t.Fatalf("snapshot dir %s not under %s/snapshots", dir, s.dataDir)
	}
	// Nothing has been compacted yet (blocks span 2h), so everything is in
	// the head, which the snapshot writes out as exactly one block holding
	// at least the samples appended before it was asked for.
	blocks, err := prometheus.Check(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if blocks != 1 {
		t.Fatalf("Check: %d blocks, want the head as 1", blocks)
	}
	metas, err := filepath.Glob(filepath.Join(dir, "*", "meta.json"))
	if err != nil || len(metas) != 1 {
		t.Fatalf("meta.json files %v, %v", metas, err)
	}
	raw, err := os.ReadFile(metas[0])
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Stats struct {
			NumSamples float64 `json:"numSamples"`
		} `json:"stats"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Stats.NumSamples < appended {
		t.Fatalf("snapshot block has %v samples, Prometheus had appended %v before", meta.Stats.NumSamples, appended)
	}

	// The snapshot's range holds the samples, which the server answers for.
	from, to, err := prometheus.Range(dir)
	if err != nil || !from.Before(to) {
		t.Fatalf("Range = %v..%v, %v", from, to, err)
	}
	if err := prometheus.Ready(ctx, s.url); err != nil {
		t.Fatal(err)
	}
	if n, err := prometheus.SeriesAt(ctx, s.url, to); err != nil || n == 0 {
		t.Fatalf("SeriesAt(end of the snapshot's range) = %d, %v; want series", n, err)
	}
	if n, err := prometheus.SeriesAt(ctx, s.url, from.Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("SeriesAt(an hour before any sample) = %d, %v; want none", n, err)
	}
	if _, _, err := prometheus.Range(s.dataDir); !errors.Is(err, prometheus.ErrNoBlocks) {
		t.Errorf("Range(data dir without blocks) = %v, want ErrNoBlocks", err)
	}

	// The live data directory has no block yet, only the head's WAL.
	if _, err := prometheus.Check(ctx, s.dataDir); !errors.Is(err, prometheus.ErrNoBlocks) || !strings.Contains(err.Error(), "WAL") {
		t.Errorf("Check(data dir) = %v, want ErrNoBlocks naming the WAL", err)
	}

	t.Run("corrupted copy", func(t *testing.T) {
		for name, corrupt := range map[string]func(block string) error{
			"index deleted": func(block string) error { return os.Remove(filepath.Join(block, "index")) },
			"chunk segment truncated": func(block string) error {
				return os.Truncate(filepath.Join(block, "chunks", "000001"), 0)
			},
		} {
			t.Run(name, func(t *testing.T) {
				cp := filepath.Join(t.TempDir(), "restore")
				if err := os.CopyFS(cp, os.DirFS(dir)); err != nil {
					t.Fatal(err)
				}
				if err := corrupt(filepath.Join(cp, filepath.Base(filepath.Dir(metas[0])))); err != nil {
					t.Fatal(err)
				}
				_, err := prometheus.Check(ctx, cp)
				if err == nil || !strings.Contains(err.Error(), "corrupted block") {
					t.Fatalf("Check of a copy with the %s = %v, want promtool's corrupted block error", name, err)
				}
				t.Log(err)
			})
		}
	})

	t.Run("wrong data dir", func(t *testing.T) {
		_, err := prometheus.Snapshot(ctx, s.url, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "--storage.tsdb.path") {
			t.Fatalf("Snapshot with a wrong data dir = %v, want a hint about --storage.tsdb.path", err)
		}
	})

	t.Run("remove refuses", func(t *testing.T) {
		for _, p := range []string{
			s.dataDir,
			filepath.Join(s.dataDir, "snapshots"),
			filepath.Join(s.dataDir, "snapshots", "..", "wal"),
			filepath.Join(dir, "x"),
			"/",
		} {
			if err := prometheus.Remove(s.dataDir, p); err == nil {
				t.Errorf("Remove(%s) succeeded", p)
			}
		}
		if _, err := os.Stat(filepath.Join(s.dataDir, "wal")); err != nil {
			t.Fatal(err)
		}
	})

	if err := prometheus.Remove(s.dataDir, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("snapshot still there after Remove: %v", err)
	}
	if err := prometheus.Remove(s.dataDir, dir); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
}

func TestSnapshotEmptyTSDB(t *testing.T) {
	t.Parallel()
	promtest.Tool(t, "promtool", "prometheus")
	s := start(t, true, false)
	dir, err := prometheus.Snapshot(context.Background(), s.url, s.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prometheus.Check(context.Background(), dir); !errors.Is(err, prometheus.ErrNoBlocks) || !strings.Contains(err.Error(), "empty snapshot") {
		t.Fatalf("Check(empty snapshot) = %v, want ErrNoBlocks saying it is empty", err)
	}
}

func TestSnapshotAdminAPIDisabled(t *testing.T) {
	t.Parallel()
	s := start(t, false, false)
	_, err := prometheus.Snapshot(context.Background(), s.url, s.dataDir)
	if err == nil {
		t.Fatal("Snapshot succeeded without the admin API")
	}
	for _, want := range []string{s.url, "500", "admin APIs disabled", "--web.enable-admin-api"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestSnapshotUnreachable(t *testing.T) {
	t.Parallel()
	url := "http://" + promtest.FreeAddr(t)
	_, err := prometheus.Snapshot(context.Background(), url, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), url) {
		t.Fatalf("Snapshot(%s) = %v, want an error naming it", url, err)
	}
}

// A server that accepts and never answers must not hold Snapshot past ctx.
func TestSnapshotBoundedByContext(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				// Reads until Snapshot gives up and hangs up.
				_, _ = io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err = prometheus.Snapshot(ctx, "http://"+l.Addr().String(), t.TempDir())
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(begin) > 5*time.Second {
		t.Fatalf("Snapshot against a silent server = %v after %s, want the ctx deadline", err, time.Since(begin))
	}
}
