// Package prometheus backs up a running Prometheus's TSDB. The admin API's
// snapshot hard-links the persisted blocks and writes the in-memory head as
// one more block, so a snapshot is complete, cheap and consistent while
// Prometheus keeps ingesting; the caller archives it and removes it again.
// promtool checks a restored copy.
package prometheus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// clientTimeout bounds one snapshot request when ctx does not: writing a
// large head to disk takes a while, a hung server should not take forever.
const clientTimeout = 5 * time.Minute

// ErrNoBlocks marks a TSDB directory promtool can open but that holds no
// blocks: nothing to restore from it.
var ErrNoBlocks = errors.New("no TSDB blocks")

// Snapshot asks Prometheus at url (e.g. http://127.0.0.1:9090) for a TSDB
// snapshot, head included, and returns its directory,
// dataDir/snapshots/<name>. dataDir is Prometheus's --storage.tsdb.path as
// seen from this machine. The caller archives the directory, then calls
// Remove.
func Snapshot(ctx context.Context, url, dataDir string) (string, error) {
	endpoint := strings.TrimRight(url, "/") + "/api/v1/admin/tsdb/snapshot"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, nil)
	if err != nil {
		return "", fmt.Errorf("prometheus snapshot: %w", err)
	}
	client := http.Client{Timeout: clientTimeout}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("prometheus snapshot: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("prometheus snapshot: POST %s: %s: reading answer: %w", endpoint, resp.Status, err)
	}
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Name string `json:"name"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return "", fmt.Errorf("prometheus snapshot: POST %s: %s: %q is not an API answer: %w", endpoint, resp.Status, bytes.TrimSpace(raw), err)
	}
	if resp.StatusCode != http.StatusOK || body.Status != "success" {
		hint := ""
		if body.Error == "admin APIs disabled" {
			hint = " (start Prometheus with --web.enable-admin-api)"
		}
		return "", fmt.Errorf("prometheus snapshot: POST %s: %s: %s%s", endpoint, resp.Status, body.Error, hint)
	}
	// The name becomes a path: accept only a single plain element.
	name := body.Data.Name
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
		return "", fmt.Errorf("prometheus snapshot: POST %s: unexpected snapshot name %q", endpoint, name)
	}
	dir := filepath.Join(dataDir, "snapshots", name)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("prometheus snapshot: %s made snapshot %s but %s is not a directory here; is %s Prometheus's --storage.tsdb.path as seen from this machine? %v",
			url, name, dir, dataDir, err)
	}
	return dir, nil
}

// Remove deletes a snapshot directory returned by Snapshot. It refuses any
// path that is not directly under dataDir/snapshots, and deletes through an
// os.Root there, so neither a bad argument nor a symlink inside the snapshot
// can make it delete anything else. Removing a snapshot already gone is not
// an error, so a retried cleanup succeeds.
func Remove(dataDir, snapshotDir string) error {
	root, err := filepath.Abs(filepath.Join(dataDir, "snapshots"))
	if err != nil {
		return fmt.Errorf("removing prometheus snapshot %s: %w", snapshotDir, err)
	}
	abs, err := filepath.Abs(snapshotDir)
	if err != nil {
		return fmt.Errorf("removing prometheus snapshot %s: %w", snapshotDir, err)
	}
	if filepath.Dir(abs) != root || abs == root {
		return fmt.Errorf("removing prometheus snapshot %s: refusing, not a directory directly under %s", snapshotDir, root)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return fmt.Errorf("removing prometheus snapshot %s: %w", snapshotDir, err)
	}
	defer r.Close()
	if err := r.RemoveAll(filepath.Base(abs)); err != nil {
		return fmt.Errorf("removing prometheus snapshot %s: %w", snapshotDir, err)
	}
	return nil
}

// Check verifies that a restored TSDB directory is readable with
// `promtool tsdb list` and returns how many blocks it holds. A directory
// without blocks fails with ErrNoBlocks: an empty snapshot (Prometheus held
// no samples), or a data directory whose samples are all still in the head
// and its WAL, which a snapshot would have written out as a block.
//
// promtool opens each block's meta.json, index and chunk segment headers,
// not the chunk data: a chunk file cut short inside its data passes. promtool
// also creates an empty chunks_head directory in dir.
func Check(ctx context.Context, dir string) (blocks int, err error) {
	cmd := exec.CommandContext(ctx, "promtool", "tsdb", "list", dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return 0, fmt.Errorf("promtool tsdb list %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()+"\n"+stdout.String()))
	}
	// A header line, then one line per block.
	for _, line := range strings.Split(stdout.String(), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] != "BLOCK" {
			blocks++
		}
	}
	if blocks > 0 {
		return blocks, nil
	}
	if _, err := os.Stat(filepath.Join(dir, "wal")); err == nil {
		return 0, fmt.Errorf("%s: %w: only a head and its WAL, not yet compacted into a block; back up a snapshot instead", dir, ErrNoBlocks)
	}
	return 0, fmt.Errorf("%s: %w and no WAL: an empty snapshot (Prometheus held no samples) or not a TSDB directory", dir, ErrNoBlocks)
}
