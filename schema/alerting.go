package schema

import (
	"maps"
	"slices"
	"strconv"

	"cuelang.org/go/cue"

	"github.com/drsync/drsync/schema/diag"
)

// Alerting routes drsync's alerts to receivers (see #Alerting).
type Alerting struct {
	Receivers      map[string]Receiver `json:"receivers"`
	Receiver       string              `json:"receiver"`
	Routes         []Route             `json:"routes"`
	GroupWait      Duration            `json:"groupWait"`
	GroupInterval  Duration            `json:"groupInterval"`
	RepeatInterval Duration            `json:"repeatInterval"`
}

// Route sends the alerts matching its severity and category (unset: any)
// to its receiver.
type Route struct {
	Receiver       string    `json:"receiver"`
	Severity       string    `json:"severity,omitempty"`
	Category       string    `json:"category,omitempty"`
	RepeatInterval *Duration `json:"repeatInterval,omitempty"`
	Continue       bool      `json:"continue"`
}

// Receiver is one place alerts go (see #Receiver).
type Receiver struct {
	Kind         string `json:"kind"`
	URLFile      string `json:"urlFile,omitempty"`
	Channel      string `json:"channel,omitempty"`
	URL          string `json:"url,omitempty"`
	TokenFile    string `json:"tokenFile,omitempty"`
	To           string `json:"to,omitempty"`
	From         string `json:"from,omitempty"`
	Smarthost    string `json:"smarthost,omitempty"`
	Username     string `json:"username,omitempty"`
	PasswordFile string `json:"passwordFile,omitempty"`
	RequireTLS   bool   `json:"requireTLS,omitempty"`
	SendResolved bool   `json:"sendResolved"`
}

// Receiver kinds.
const (
	ReceiverSlack   = "slack"
	ReceiverDiscord = "discord"
	ReceiverWebhook = "webhook"
	ReceiverNtfy    = "ntfy"
	ReceiverEmail   = "email"
)

// Ping is one notification of a command's progress (see #Ping).
type Ping struct {
	Kind      string   `json:"kind"`
	URLFile   string   `json:"urlFile"`
	TokenFile string   `json:"tokenFile,omitempty"`
	Commands  []string `json:"commands"`
	Events    []string `json:"events"`
	Timeout   Duration `json:"timeout"`
}

// PingNames returns the declared pings' names, sorted.
func (d *Desired) PingNames() []string { return slices.Sorted(maps.Keys(d.Pings)) }

// checkAlerting finds receivers that the alerting routes name but nobody
// declared, positioned in the user's file.
func (d *Desired) checkAlerting(v cue.Value) []Problem {
	a := d.Alerting
	if a == nil {
		return nil
	}
	declared := diag.ListOr(slices.Sorted(maps.Keys(a.Receivers)))
	var probs []Problem
	unknown := func(name string, p cue.Path) {
		if _, ok := a.Receivers[name]; !ok {
			probs = append(probs, Problem{Pos: diag.PosOf(v.LookupPath(p)), Path: p.String(),
				Message: "unknown receiver " + strconv.Quote(name) + " (declared: " + declared + ")"})
		}
	}
	unknown(a.Receiver, cue.MakePath(cue.Str("alerting"), cue.Str("receiver")))
	for i, r := range a.Routes {
		unknown(r.Receiver, cue.MakePath(cue.Str("alerting"), cue.Str("routes"), cue.Index(i), cue.Str("receiver")))
	}
	return probs
}
