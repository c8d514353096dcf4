// Package alertmanager renders the Alertmanager configuration for the
// declared receivers and routes.
package alertmanager

import (
	"fmt"
	"maps"
	"net/url"
	"slices"

	"github.com/drsync/drsync/render/internal/genfile"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

// The Alertmanager configuration. It is written for Debian's Alertmanager
// 0.25, whose Discord and webhook receivers cannot read their URL from a
// file: Discord is therefore reached through its Slack-compatible endpoint
// (slack_configs reads api_url_file), and webhook and ntfy receivers carry
// their secret as a bearer token read from credentials_file. No secret is
// ever part of this file, so plan may show its diff.
type amConfig struct {
	Route        amRoute     `yaml:"route"`
	InhibitRules []amInhibit `yaml:"inhibit_rules"`
	Receivers    []amRecv    `yaml:"receivers"`
}

type amRoute struct {
	Receiver       string    `yaml:"receiver"`
	GroupBy        []string  `yaml:"group_by,omitempty"`
	GroupWait      string    `yaml:"group_wait,omitempty"`
	GroupInterval  string    `yaml:"group_interval,omitempty"`
	RepeatInterval string    `yaml:"repeat_interval,omitempty"`
	Matchers       []string  `yaml:"matchers,omitempty"`
	Continue       bool      `yaml:"continue,omitempty"`
	Routes         []amRoute `yaml:"routes,omitempty"`
}

type amInhibit struct {
	SourceMatchers []string `yaml:"source_matchers"`
	TargetMatchers []string `yaml:"target_matchers"`
	Equal          []string `yaml:"equal"`
}

type amRecv struct {
	Name           string      `yaml:"name"`
	SlackConfigs   []amSlack   `yaml:"slack_configs,omitempty"`
	WebhookConfigs []amWebhook `yaml:"webhook_configs,omitempty"`
	EmailConfigs   []amEmail   `yaml:"email_configs,omitempty"`
}

type amSlack struct {
	SendResolved bool   `yaml:"send_resolved"`
	APIURLFile   string `yaml:"api_url_file"`
	Channel      string `yaml:"channel,omitempty"`
	Title        string `yaml:"title"`
	Text         string `yaml:"text"`
}

type amWebhook struct {
	SendResolved bool          `yaml:"send_resolved"`
	URL          string        `yaml:"url"`
	HTTPConfig   *amHTTPConfig `yaml:"http_config,omitempty"`
}

type amHTTPConfig struct {
	Authorization amAuthorization `yaml:"authorization"`
}

type amAuthorization struct {
	Type            string `yaml:"type"`
	CredentialsFile string `yaml:"credentials_file"`
}

type amEmail struct {
	SendResolved     bool              `yaml:"send_resolved"`
	To               string            `yaml:"to"`
	From             string            `yaml:"from"`
	Smarthost        string            `yaml:"smarthost"`
	AuthUsername     string            `yaml:"auth_username,omitempty"`
	AuthPasswordFile string            `yaml:"auth_password_file,omitempty"`
	RequireTLS       bool              `yaml:"require_tls"`
	Headers          map[string]string `yaml:"headers"`
	Text             string            `yaml:"text"`
}

// alertGroupBy makes one message per alert and host, listing every
// subvolume it concerns.
var alertGroupBy = []string{"alertname", "host"}

// The message every receiver shows: what fired, where, and what to read.
// A host label comes from the scrape config; a Prometheus that scrapes
// without it still names the instance.
const (
	alertTitle = `[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} on {{ or .CommonLabels.host .CommonLabels.instance }}`
	alertText  = `{{ range .Alerts }}{{ .Labels.alertname }} ({{ .Labels.severity }}) on host {{ or .Labels.host .Labels.instance }}: {{ .Annotations.summary }}
{{ .Annotations.description }}
{{ with .Annotations.runbook }}Runbook: {{ . }}
{{ end }}{{ end }}`
	// ntfy fills these from Alertmanager's JSON (ntfy's message templates).
	ntfyTitle   = `{{ .status }}: {{ .commonLabels.alertname }}`
	ntfyMessage = `{{ range .alerts }}{{ .labels.alertname }} on host {{ or .labels.host .labels.instance }}: {{ .annotations.summary }}{{ with .annotations.runbook }} (runbook {{ . }}){{ end }}
{{ end }}`
)

// Config renders the Alertmanager configuration for the declared
// receivers and routes.
func Config(in view.Input) ([]byte, error) {
	if err := view.Check(in); err != nil {
		return nil, err
	}
	a := in.Desired.Alerting
	if a == nil {
		return nil, fmt.Errorf("alertmanager config: no alerting declared")
	}
	root := amRoute{
		Receiver:       a.Receiver,
		GroupBy:        alertGroupBy,
		GroupWait:      schema.FormatDuration(a.GroupWait.Duration),
		GroupInterval:  schema.FormatDuration(a.GroupInterval.Duration),
		RepeatInterval: schema.FormatDuration(a.RepeatInterval.Duration),
	}
	for _, r := range a.Routes {
		child := amRoute{Receiver: r.Receiver, Continue: r.Continue}
		if r.Severity != "" {
			child.Matchers = append(child.Matchers, fmt.Sprintf("severity=%q", r.Severity))
		}
		if r.Category != "" {
			child.Matchers = append(child.Matchers, fmt.Sprintf("category=%q", r.Category))
		}
		if r.RepeatInterval != nil {
			child.RepeatInterval = schema.FormatDuration(r.RepeatInterval.Duration)
		}
		root.Routes = append(root.Routes, child)
	}
	cfg := amConfig{
		Route: root,
		// An absent drive makes its replicas age: say the cause, not
		// each symptom.
		InhibitRules: []amInhibit{{
			SourceMatchers: []string{`alertname="ExternalDriveNotSeen"`},
			TargetMatchers: []string{`alertname="BackupTooOld"`},
			Equal:          []string{"host", "location_name"},
		}},
	}
	for _, name := range slices.Sorted(maps.Keys(a.Receivers)) {
		r, err := amReceiver(name, a.Receivers[name])
		if err != nil {
			return nil, err
		}
		cfg.Receivers = append(cfg.Receivers, r)
	}
	header := fmt.Sprintf("# Generated by drsync from %s; edit the desired state, not this file.\n# Check: amtool check-config %s\n", in.Desired.Generate.DesiredFile, in.Desired.Generate.Alertmanager)
	return genfile.YAML(header, cfg)
}

// amReceiver translates one declared receiver.
func amReceiver(name string, r schema.Receiver) (amRecv, error) {
	out := amRecv{Name: name}
	switch r.Kind {
	case schema.ReceiverSlack, schema.ReceiverDiscord:
		out.SlackConfigs = []amSlack{{SendResolved: r.SendResolved, APIURLFile: r.URLFile, Channel: r.Channel, Title: alertTitle, Text: alertText}}
	case schema.ReceiverWebhook:
		out.WebhookConfigs = []amWebhook{{SendResolved: r.SendResolved, URL: r.URL, HTTPConfig: bearer(r.TokenFile)}}
	case schema.ReceiverNtfy:
		u, err := url.Parse(r.URL)
		if err != nil {
			return amRecv{}, fmt.Errorf("alerting receiver %q: url: %w", name, err)
		}
		q := u.Query()
		q.Set("tpl", "yes")
		q.Set("t", ntfyTitle)
		q.Set("m", ntfyMessage)
		u.RawQuery = q.Encode()
		out.WebhookConfigs = []amWebhook{{SendResolved: r.SendResolved, URL: u.String(), HTTPConfig: bearer(r.TokenFile)}}
	case schema.ReceiverEmail:
		out.EmailConfigs = []amEmail{{
			SendResolved: r.SendResolved, To: r.To, From: r.From, Smarthost: r.Smarthost,
			AuthUsername: r.Username, AuthPasswordFile: r.PasswordFile, RequireTLS: r.RequireTLS,
			Headers: map[string]string{"Subject": alertTitle},
			Text:    alertText,
		}}
	default:
		return amRecv{}, fmt.Errorf("alerting receiver %q: unknown kind %q", name, r.Kind)
	}
	return out, nil
}

func bearer(tokenFile string) *amHTTPConfig {
	if tokenFile == "" {
		return nil
	}
	return &amHTTPConfig{Authorization: amAuthorization{Type: "Bearer", CredentialsFile: tokenFile}}
}
