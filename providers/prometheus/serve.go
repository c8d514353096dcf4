package prometheus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// readyTimeout bounds the wait for a restored Prometheus to answer
// /-/ready when ctx does not: replaying a large TSDB takes a while, a
// Prometheus that never gets there must not hang a drill.
const readyTimeout = 5 * time.Minute

// Served is what a Prometheus started over a restored TSDB answered.
type Served struct {
	// Metric is the metric queried (up when the TSDB holds it), Series
	// and Samples what the query counted between From and To, the time
	// range of the TSDB's blocks.
	Metric  string
	Series  int
	Samples int
	From    time.Time
	To      time.Time
	// ReadySeconds is how long Prometheus took to answer /-/ready.
	ReadySeconds float64
}

// ErrNotServed marks a restored TSDB the real Prometheus would not serve:
// it did not start, never got ready, or a query over the restored range
// failed or found nothing.
var ErrNotServed = errors.New("restored TSDB not served")

// Serve starts the real Prometheus over the restored TSDB in tsdbDir on
// a free loopback port (config, and nothing else, written into workDir),
// waits until it answers /-/ready, queries a metric its blocks hold over
// their whole time range, and stops it with its whole process group. The
// restored data is never scraped into or pruned by retention.
func Serve(ctx context.Context, tsdbDir, workDir string) (Served, error) {
	var s Served
	from, to, err := blockRange(tsdbDir)
	if err != nil {
		return s, err
	}
	s.From, s.To = from, to
	cfg := filepath.Join(workDir, "prometheus-drill.yml")
	if err := os.WriteFile(cfg, []byte("# drsync drill: a restored TSDB, queried, never scraped into\nscrape_configs: []\n"), 0o600); err != nil {
		return s, fmt.Errorf("prometheus drill config: %w", err)
	}
	p, err := startOn(ctx, cfg, tsdbDir)
	if err != nil {
		return s, err
	}
	defer p.stop()
	start := time.Now()
	if err := p.waitReady(ctx); err != nil {
		return s, err
	}
	s.ReadySeconds = time.Since(start).Seconds()
	s.Metric, err = p.pickMetric(ctx, from, to)
	if err != nil {
		return s, err
	}
	s.Series, s.Samples, err = p.countSamples(ctx, s.Metric, from, to)
	if err != nil {
		return s, err
	}
	if s.Samples == 0 {
		return s, fmt.Errorf("%w: %s holds no samples of %s between %s and %s", ErrNotServed, tsdbDir, s.Metric,
			from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return s, nil
}

// blockRange is the sample range the drill queries: Range, with the
// blocks' exclusive end made inclusive. A meta.json Prometheus could not
// read makes the TSDB one it would not serve.
func blockRange(dir string) (from, to time.Time, err error) {
	from, to, err = Range(dir)
	if errors.Is(err, errBadMeta) {
		return from, to, fmt.Errorf("%w: %w", ErrNotServed, err)
	}
	if err != nil {
		return from, to, err
	}
	if !to.After(from) {
		return from, to, fmt.Errorf("tsdb range of %s: %w", dir, ErrNoBlocks)
	}
	return from.UTC(), to.Add(-time.Millisecond).UTC(), nil
}

// served is a running Prometheus of a drill.
type served struct {
	cmd  *exec.Cmd
	url  string
	out  *tailBuffer
	done chan struct{}
}

// startOn starts Prometheus on a free loopback port, in a process group
// of its own so that stop reaches everything it started. A port taken
// between choosing and binding it is retried.
func startOn(ctx context.Context, cfg, tsdbDir string) (*served, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr, err := freeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		out := &tailBuffer{max: 16 << 10}
		cmd := exec.Command("prometheus", "--config.file="+cfg, "--storage.tsdb.path="+tsdbDir,
			"--web.listen-address="+addr,
			// Restored blocks may be years old: retention must not delete them on start.
			"--storage.tsdb.retention.time=100y")
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("%w: starting prometheus: %v", ErrNotServed, err)
		}
		p := &served{cmd: cmd, url: "http://" + addr, out: out, done: make(chan struct{})}
		go func() { cmd.Wait(); close(p.done) }()
		// Binding happens before the TSDB is opened: a quick exit here is a port taken meanwhile.
		select {
		case <-p.done:
			lastErr = fmt.Errorf("%w: prometheus exited at start: %s", ErrNotServed, out.String())
			if strings.Contains(out.String(), "address already in use") {
				continue
			}
			return nil, lastErr
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		}
		return p, nil
	}
	return nil, lastErr
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("choosing a port for prometheus: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// stop ends the process group: SIGTERM, then SIGKILL if it lingers.
func (p *served) stop() {
	pgid := p.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// waitReady polls /-/ready until Prometheus answers 200, exits, or the
// wait is over.
func (p *served) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := http.Client{Timeout: 5 * time.Second}
	last := "no answer"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/-/ready", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-p.done:
			return fmt.Errorf("%w: prometheus exited before it was ready: %s", ErrNotServed, p.out.String())
		case <-ctx.Done():
			return fmt.Errorf("%w: prometheus not ready (%s): %v; its output: %s", ErrNotServed, last, ctx.Err(), p.out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// pickMetric names a metric the TSDB's index holds in the range: up when
// there is one (every scraped target has it), else the first by name.
func (p *served) pickMetric(ctx context.Context, from, to time.Time) (string, error) {
	q := url.Values{"start": {unixSeconds(from)}, "end": {unixSeconds(to)}}
	var names []string
	if err := p.get(ctx, "/api/v1/label/__name__/values?"+q.Encode(), &names); err != nil {
		return "", err
	}
	if len(names) == 0 {
		return "", fmt.Errorf("%w: its index names no metric between %s and %s", ErrNotServed, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if slices.Contains(names, "up") {
		return "up", nil
	}
	slices.Sort(names)
	return names[0], nil
}

// countSamples counts the series of metric and their samples over
// [from, to], which reads every chunk of them: damage there fails here.
func (p *served) countSamples(ctx context.Context, metric string, from, to time.Time) (series, samples int, err error) {
	window := to.Sub(from).Milliseconds() + 1
	query := fmt.Sprintf("count_over_time({__name__=%q}[%dms])", metric, window)
	q := url.Values{"query": {query}, "time": {unixSeconds(to)}}
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Value [2]any `json:"value"`
		} `json:"result"`
	}
	if err := p.get(ctx, "/api/v1/query?"+q.Encode(), &data); err != nil {
		return 0, 0, err
	}
	for _, r := range data.Result {
		v, _ := r.Value[1].(string)
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: query %s: value %q", ErrNotServed, query, v)
		}
		series++
		samples += int(n)
	}
	return series, samples, nil
}

// get calls the HTTP API and decodes its data field into v.
func (p *served) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+path, nil)
	if err != nil {
		return err
	}
	if readable, err := url.QueryUnescape(path); err == nil {
		path = readable
	}
	client := http.Client{Timeout: clientTimeout}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: GET %s: %v", ErrNotServed, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%w: GET %s: %v", ErrNotServed, path, err)
	}
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.Status != "success" {
		msg := body.Error
		if msg == "" {
			msg = strings.TrimSpace(string(raw))
		}
		return fmt.Errorf("%w: GET %s: %s: %s", ErrNotServed, path, resp.Status, msg)
	}
	if err := json.Unmarshal(body.Data, v); err != nil {
		return fmt.Errorf("%w: GET %s: %v", ErrNotServed, path, err)
	}
	return nil
}

func unixSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

// tailBuffer keeps the last max bytes written to it: Prometheus's own
// explanation of a failure, without holding a long log.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

// String is Prometheus's explanation: its last error lines when it logged
// any (a failing Prometheus logs its shutdown after them), else its last line.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(b.buf.String()), "\n")
	var errs []string
	for _, l := range lines {
		if strings.Contains(l, "level=error") || strings.HasPrefix(l, "prometheus: error") {
			errs = append(errs, strings.TrimSpace(l))
		}
	}
	if len(errs) > 2 {
		errs = errs[len(errs)-2:]
	}
	if len(errs) == 0 {
		errs = lines[len(lines)-1:]
	}
	return strings.Join(errs, "; ")
}
