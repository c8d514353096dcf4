package promtest

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// StartAlertmanager runs Debian's Alertmanager with config on a free
// loopback port for the rest of the test, clustering off, and returns its
// address once it answers.
func StartAlertmanager(t testing.TB, config string) string {
	t.Helper()
	Tool(t, "prometheus-alertmanager", "prometheus-alertmanager")
	addr := FreeAddr(t)
	run(t, "prometheus-alertmanager", "--config.file="+config, "--storage.path="+filepath.Join(t.TempDir(), "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	client := http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if resp, err := client.Get("http://" + addr + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
	}
	t.Fatalf("alertmanager on %s not ready within 20s", addr)
	return ""
}

// ShortFor copies a rule file with every for: duration cut to one second,
// so alerts fire within a test instead of after minutes; expressions,
// labels and annotations stay as they are. It returns the copy's path.
func ShortFor(t testing.TB, rules string) string {
	t.Helper()
	b, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	short := regexp.MustCompile(`(?m)^(\s+for: )\S+$`).ReplaceAll(b, []byte("${1}1s"))
	if bytes.Equal(short, b) {
		t.Fatalf("no for: durations in %s", rules)
	}
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, short, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
