package notify

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/drsync/drsync/schema"
)

// maxSecret bounds a secret file: a URL or a token, never a document.
const maxSecret = 4096

// Targets builds the declared pings, reading their URLs and tokens from
// their files. A ping whose file cannot be used is left out and reported:
// a broken ping must not stop the run it would report on.
func Targets(d *schema.Desired) ([]Target, []error) {
	var out []Target
	var problems []error
	for _, name := range d.PingNames() {
		p := d.Pings[name]
		n, err := notifier(p)
		if err != nil {
			problems = append(problems, fmt.Errorf("ping %q: %w", name, err))
			continue
		}
		t := Target{Name: name, Kind: p.Kind, Notifier: n, Commands: p.Commands, Budget: p.Timeout.Duration}
		for _, e := range p.Events {
			t.Events = append(t.Events, Event(e))
		}
		out = append(out, t)
	}
	return out, problems
}

func notifier(p schema.Ping) (Notifier, error) {
	u, err := readSecret(p.URLFile)
	if err != nil {
		return nil, err
	}
	if parsed, err := url.Parse(u); err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
		// The content is a secret: name the file, not what is in it.
		return nil, fmt.Errorf("%s does not hold an http(s) URL", p.URLFile)
	}
	var token string
	if p.TokenFile != "" {
		if token, err = readSecret(p.TokenFile); err != nil {
			return nil, err
		}
	}
	switch p.Kind {
	case "healthchecks":
		return Healthchecks{URL: u}, nil
	case "ntfy":
		return Ntfy{URL: u, Token: token}, nil
	case "webhook":
		return Webhook{URL: u, Token: token}, nil
	}
	return nil, fmt.Errorf("unknown kind %q", p.Kind)
}

// readSecret reads a small regular file without following a symlink at
// its last component, trimmed of surrounding space.
func readSecret(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", fmt.Errorf("reading secret: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("reading secret: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("secret %s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecret+1))
	if err != nil {
		return "", fmt.Errorf("reading secret %s: %w", path, err)
	}
	if len(b) > maxSecret {
		return "", fmt.Errorf("secret %s is larger than %d bytes", path, maxSecret)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("secret %s is empty", path)
	}
	return s, nil
}
