package alertmanager

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/render/internal/fixture"
	"github.com/drsync/drsync/render/view"
)

// TestAlertmanagerConfigAmtool has Alertmanager's own amtool check the
// generated configuration and route label sets through it: each alert
// must reach exactly the receivers the desired state's routes name.
func TestAlertmanagerConfigAmtool(t *testing.T) {
	amtool := promtest.Tool(t, "amtool", "prometheus-alertmanager")
	d := fixture.Alerting(t)
	cfg, err := Config(view.Input{Desired: d, Now: fixture.Now})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "alertmanager.yml")
	fixture.WriteFile(t, path, cfg)
	out := fixture.Run(t, dir, amtool, "check-config", path)
	if !strings.Contains(out, "5 receivers") || !strings.Contains(out, "1 inhibit rules") {
		t.Errorf("amtool check-config found other than 5 receivers and 1 inhibit rule:\n%s", out)
	}
	routes := []struct {
		labels []string
		want   string
	}{
		// continue: true on the pager route lets the phone route match too.
		{[]string{"alertname=RestoreTestFailed", "severity=critical", "category=disaster-recovery"}, "pager,phone"},
		{[]string{"alertname=BackupFailed", "severity=critical", "category=backup"}, "phone"},
		{[]string{"alertname=DrillOverdue", "severity=warning", "category=disaster-recovery"}, "ops-slack"},
		{[]string{"alertname=BackupTooOld", "severity=warning", "category=backup"}, "mail"},
		{[]string{"alertname=SomethingElse"}, "team-chat"},
	}
	for _, r := range routes {
		got := strings.TrimSpace(fixture.Run(t, dir, amtool, append([]string{"config", "routes", "test", "--config.file=" + path}, r.labels...)...))
		if last := got[strings.LastIndex(got, "\n")+1:]; last != r.want {
			t.Errorf("%v routed to %q, want %q", r.labels, got, r.want)
		}
	}
}

// TestAlertmanagerSecretsFromFiles checks that every secret is a path to
// a file Alertmanager reads, and that Discord goes through Slack's format
// (Alertmanager 0.25's discord_configs cannot read a file).
func TestAlertmanagerSecretsFromFiles(t *testing.T) {
	cfg, err := Config(view.Input{Desired: fixture.Alerting(t), Now: fixture.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"api_url_file: /etc/drsync/secrets/discord-url",
		"api_url_file: /etc/drsync/secrets/slack-url",
		"credentials_file: /etc/drsync/secrets/ntfy-token",
		"credentials_file: /etc/drsync/secrets/pager-token",
		"auth_password_file: /etc/drsync/secrets/smtp-password",
	} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	for _, banned := range []string{"discord_configs", "api_url:", "auth_password:", "credentials:"} {
		if strings.Contains(string(cfg), banned) {
			t.Errorf("config has %q: secrets must come from files:\n%s", banned, cfg)
		}
	}
}
