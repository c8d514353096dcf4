package prometheus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// errBadMeta marks a block whose meta.json is not JSON.
var errBadMeta = errors.New("meta.json unreadable")

// Range is the time a TSDB directory's blocks cover, read from their
// meta.json files: from the first sample to just after the last.
func Range(dir string) (from, to time.Time, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("tsdb range of %s: %w", dir, err)
	}
	var lo, hi int64
	found := false
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "meta.json"))
		if errors.Is(err, fs.ErrNotExist) {
			continue // not a block: wal, chunks_head, snapshots
		}
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("tsdb range of %s: block %s: %w", dir, e.Name(), err)
		}
		var meta struct {
			MinTime int64 `json:"minTime"`
			MaxTime int64 `json:"maxTime"`
		}
		if err := json.Unmarshal(b, &meta); err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("tsdb range of %s: block %s: %w: %w", dir, e.Name(), errBadMeta, err)
		}
		if !found || meta.MinTime < lo {
			lo = meta.MinTime
		}
		if !found || meta.MaxTime > hi {
			hi = meta.MaxTime
		}
		found = true
	}
	if !found {
		return time.Time{}, time.Time{}, fmt.Errorf("tsdb range of %s: %w", dir, ErrNoBlocks)
	}
	return time.UnixMilli(lo), time.UnixMilli(hi), nil
}

// Ready asks Prometheus at base whether it is ready (GET /-/ready answers
// 200 once the TSDB is loaded), returning the answer's status otherwise.
func Ready(ctx context.Context, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/-/ready", nil)
	if err != nil {
		return fmt.Errorf("prometheus ready: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("prometheus ready: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("prometheus ready: GET %s/-/ready: %s", strings.TrimRight(base, "/"), resp.Status)
	}
	return nil
}

// SeriesAt counts the series Prometheus at base answers with for an
// instant query at t (their newest sample at most five minutes before
// t, Prometheus's lookback): how a recovery proves the restored range is
// served, not only that the server is up.
func SeriesAt(ctx context.Context, base string, t time.Time) (int, error) {
	q := url.Values{"query": {`count({__name__=~".+"})`}, "time": {strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)}}
	endpoint := strings.TrimRight(base, "/") + "/api/v1/query?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return 0, fmt.Errorf("prometheus query: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("prometheus query: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return 0, fmt.Errorf("prometheus query %s: %s: %w", endpoint, resp.Status, err)
	}
	if body.Status != "success" {
		return 0, fmt.Errorf("prometheus query %s: %s: %s", endpoint, resp.Status, body.Error)
	}
	if len(body.Data.Result) == 0 {
		return 0, nil
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	n, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("prometheus query %s: count %q: %w", endpoint, s, err)
	}
	return int(n), nil
}
