package promtest

import (
	"net/http"
	"path/filepath"
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
