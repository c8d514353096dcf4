package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/drsync/drsync/schema"
)

// pidFile records the servers a sandbox started, so Down can stop them
// without any other state.
const pidFile = ".drsync-sandbox-pids"

// started holds the servers this process started, to reap them: a test
// that runs Up and Down in one process must not leave zombies behind.
var (
	startedMu sync.Mutex
	started   = map[int]*exec.Cmd{}
)

// StartServices gives the desired state's services something real to back
// up: sample configuration files, SQLite databases made with the sqlite3
// CLI, and a real Prometheus (admin API on, storage in its dataDir)
// listening where the desired state says, which must be a free loopback
// port. Down stops what it started.
func StartServices(ctx context.Context, dir string, d *schema.Desired) error {
	if err := writeServiceScript(dir, d); err != nil {
		return fmt.Errorf("sandbox services: %w", err)
	}
	for _, name := range d.ServiceNames() {
		svc := d.Services[name]
		// Sample data goes only where the sandbox owns the paths: a
		// desired state without root must not have real data overwritten.
		for _, p := range append([]string{svc.DataDir, svc.Database}, svc.Paths...) {
			if p != "" && !within(dir, p) {
				return fmt.Errorf("sandbox service %s: %s lies outside the sandbox %s: build its paths on root", name, p, dir)
			}
		}
		var err error
		switch svc.Kind {
		case schema.ServiceFiles:
			for i, p := range svc.Paths {
				if err = writeConfigSample(p, i); err != nil {
					break
				}
			}
		case schema.ServiceSQLite:
			err = createDatabase(ctx, svc.Database)
		case schema.ServicePrometheus:
			err = startPrometheus(ctx, dir, svc)
		}
		if err != nil {
			return fmt.Errorf("sandbox service %s: %w", name, err)
		}
	}
	return nil
}

// writeConfigSample writes a few small configuration-like files.
func writeConfigSample(dir string, seed int) error {
	files := map[string]string{
		"config.yaml":           fmt.Sprintf("# sample %d\nlisten: 127.0.0.1:%d\nretention: 30d\n", seed, 8000+seed),
		"rules/alerts.yml":      "groups: []\n",
		"secrets/token":         "not-a-real-token\n",
		"dashboards/README.txt": "Provisioned by the sandbox.\n",
	}
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(rel, "secrets/") {
			mode = 0o600
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			return err
		}
	}
	return nil
}

func createDatabase(ctx context.Context, db string) error {
	if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
		return err
	}
	sql := "CREATE TABLE IF NOT EXISTS memories(id INTEGER PRIMARY KEY, text TEXT, at TEXT);" +
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000) " +
		"INSERT INTO memories(text, at) SELECT 'memory ' || i, datetime('now') FROM n;"
	out, err := exec.CommandContext(ctx, "sqlite3", db, sql).CombinedOutput()
	if err != nil {
		return fmt.Errorf("sqlite3 %s: %v: %s", db, err, out)
	}
	return nil
}

// prometheusCommand is how the sandbox runs the Prometheus of svc: its
// storage in the service's dataDir, the admin API on, listening at its URL.
func prometheusCommand(svc *schema.Service) ([]string, error) {
	u, err := url.Parse(svc.URL)
	if err != nil {
		return nil, err
	}
	return []string{"prometheus", "--config.file=" + prometheusConfig(svc), "--storage.tsdb.path=" + svc.DataDir,
		"--web.listen-address=" + u.Host, "--web.enable-admin-api"}, nil
}

// prometheusConfig is the sandbox Prometheus's configuration file.
func prometheusConfig(svc *schema.Service) string {
	return filepath.Join(filepath.Dir(svc.DataDir), "prometheus-sandbox.yml")
}

// startPrometheus runs Prometheus on the port of svc.URL, scraping itself,
// through the sandbox's service script (as a recovery restarts it), and
// waits until it answers.
func startPrometheus(ctx context.Context, dir string, svc *schema.Service) error {
	u, err := url.Parse(svc.URL)
	if err != nil {
		return err
	}
	host := u.Host
	if h, _, err := net.SplitHostPort(host); err != nil || (h != "localhost" && !net.ParseIP(h).IsLoopback()) {
		return fmt.Errorf("%s is not a loopback address the sandbox can serve", svc.URL)
	}
	if l, err := net.Listen("tcp", host); err != nil {
		return fmt.Errorf("cannot listen on %s (%v): choose a free port, e.g. -t prometheus_url=http://127.0.0.1:19090", host, err)
	} else {
		l.Close()
	}
	if err := os.MkdirAll(svc.DataDir, 0o755); err != nil {
		return err
	}
	conf := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: [%q]\n", host)
	if err := os.WriteFile(prometheusConfig(svc), []byte(conf), 0o644); err != nil {
		return err
	}
	start := exec.CommandContext(ctx, filepath.Join(dir, ServiceScript), "start", svc.Name)
	if out, err := start.CombinedOutput(); err != nil {
		return fmt.Errorf("starting prometheus: %v: %s", err, out)
	}
	client := http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		// Ready, and holding a sample: a snapshot then has data to prove.
		if resp, err := client.Get(svc.URL + "/api/v1/query?query=up"); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"__name__":"up"`) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("prometheus on %s not ready within 30s", host)
}

// stopServices stops the servers StartServices recorded and waits (bounded)
// for them to exit, so their files can be unmounted.
func stopServices(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, line := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(line)
		if err != nil {
			continue
		}
		if !ourServer(pid, dir) {
			continue // gone, or the pid now belongs to someone else
		}
		if syscall.Kill(pid, syscall.SIGTERM) != nil {
			continue
		}
		startedMu.Lock()
		cmd := started[pid]
		delete(started, pid)
		startedMu.Unlock()
		exited := make(chan struct{})
		go func() {
			if cmd != nil {
				cmd.Wait()
			} else {
				// Started by the service script, so not our child: it is
				// gone once ourServer no longer sees it (a zombie's command
				// line is empty).
				for ourServer(pid, dir) {
					time.Sleep(50 * time.Millisecond)
				}
			}
			close(exited)
		}()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(pid, syscall.SIGKILL)
			select { // a zombie nobody reaps must not hang Down
			case <-exited:
			case <-time.After(5 * time.Second):
			}
		}
	}
	return os.Remove(filepath.Join(dir, pidFile))
}

// ourServer checks a recorded pid still is a server this sandbox started
// before it is signalled (pids are reused, and Down runs as root): a
// Prometheus whose storage, a versitygw whose buckets, or an sshd whose
// config lies under dir.
func ourServer(pid int, dir string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	if rest, ok := strings.CutPrefix(args[0], "sshd: "); ok {
		args = strings.Fields(rest) // an sshd that set its process title
	}
	if len(args) == 0 {
		return false
	}
	for i, a := range args {
		var p string
		switch filepath.Base(args[0]) {
		case "prometheus":
			p, _ = strings.CutPrefix(a, "--storage.tsdb.path=")
		case "versitygw":
			if a == "posix" && i+1 < len(args) {
				p = args[i+1]
			}
		case "sshd":
			if a == "-f" && i+1 < len(args) {
				p = args[i+1]
			}
		}
		if p != "" && within(dir, p) {
			return true
		}
	}
	return false
}

// Within reports whether p is dir or below it.
func Within(dir, p string) bool { return within(dir, p) }

// RecordStarted notes a server in the pid file Down reads, and keeps its
// Cmd to reap it when Down runs in this process. Down signals it only
// while it still is a server of the sandbox (see ourServer).
func RecordStarted(dir string, cmd *exec.Cmd) error {
	f, err := os.OpenFile(filepath.Join(dir, pidFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintln(f, cmd.Process.Pid)
	if err := f.Close(); err != nil {
		return err
	}
	startedMu.Lock()
	started[cmd.Process.Pid] = cmd
	startedMu.Unlock()
	return nil
}
