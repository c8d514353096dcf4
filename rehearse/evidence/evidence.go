// Package evidence journals rehearsals of the disaster-recovery runbooks
// in the user's state directory, and reads back the newest of each.
//
// A rehearsal runs on a throwaway sandbox whose state directory is torn
// down with it, so its outcome is appended to the state directory of the
// desired state it rehearsed (`<stateDir>/rehearsals.jsonl`): the one
// whose runbooks, metrics and alerts report it. The file is its own rather
// than a kind of entry in the apply journal: a rehearsal is rare (a few a
// year), is no action of an apply run, and must not hold the apply lock
// for the minutes a sandbox takes.
package evidence

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// File is the name of the rehearsal journal in the state directory.
const File = "rehearsals.jsonl"

// Rehearsal is one run of a runbook on a sandbox.
type Rehearsal struct {
	Runbook string    `json:"runbook"` // DR-001 …
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	// Bytes is the data the rehearsal recovered and compared.
	Bytes  int64  `json:"bytes"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail"` // what was checked, or why it failed
	// Storage and Desired say what was rehearsed: btrfs or plain
	// directories, and which desired-state file.
	Storage string `json:"storage"`
	Desired string `json:"desired"`
	// Services are the services the disaster takes, each restored from
	// its newest verified archive into staging and checked ready.
	Services []ServiceCheck `json:"services,omitempty"`
}

// ServiceCheck is one service a rehearsal restored into staging from an
// archive and checked the way the service reads its data.
type ServiceCheck struct {
	Service string `json:"service"`
	Archive string `json:"archive"`
	// Location is where the archive was read: its backups location, the
	// drive, or the off-site target it was fetched from.
	Location string `json:"location"`
	Passed   bool   `json:"passed"`
	// Detail lists the checks that passed, or says what failed.
	Detail string `json:"detail"`
	Files  int    `json:"files"`
	Bytes  int64  `json:"bytes"`
	// RestoreSeconds is extracting and checksumming the archive,
	// ServiceSeconds bringing the service up on it and checking.
	RestoreSeconds float64 `json:"restoreSeconds"`
	ServiceSeconds float64 `json:"serviceSeconds"`
}

// Duration is how long the rehearsal took.
func (r Rehearsal) Duration() time.Duration {
	return time.Duration(r.Seconds * float64(time.Second))
}

// Append journals r in stateDir (created 0700 when missing), fsynced. The
// file is opened without following a symlink.
func Append(stateDir string, r Rehearsal) error {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("rehearsal evidence: %w", err)
	}
	path := filepath.Join(stateDir, File)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("rehearsal evidence: %w", err)
	}
	line, err := json.Marshal(r)
	if err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("rehearsal evidence %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("rehearsal evidence %s: %w", path, err)
	}
	return f.Close()
}

// Latest is the newest rehearsal of a runbook and its newest passing one.
type Latest struct {
	Last        Rehearsal
	LastSuccess *Rehearsal // nil: never passed
}

// Load returns, by runbook, the newest rehearsals journaled in stateDir;
// a missing journal is an empty map. A line that cannot be read (a torn
// last write) is skipped and named in the returned warnings.
func Load(stateDir string) (map[string]Latest, []string, error) {
	f, err := os.OpenFile(filepath.Join(stateDir, File), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]Latest{}, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("rehearsal evidence: %w", err)
	}
	defer f.Close()
	out := map[string]Latest{}
	var warnings []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var r Rehearsal
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Runbook == "" {
			warnings = append(warnings, fmt.Sprintf("%s line %d: not a rehearsal, skipped", f.Name(), n))
			continue
		}
		l := out[r.Runbook]
		if l.Last.Runbook == "" || !r.Started.Before(l.Last.Started) {
			l.Last = r
		}
		if r.Passed && (l.LastSuccess == nil || !r.Started.Before(l.LastSuccess.Started)) {
			l.LastSuccess = &r
		}
		out[r.Runbook] = l
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("rehearsal evidence %s: %w", f.Name(), err)
	}
	return out, warnings, nil
}
