package reconcile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// JournalFile is the journal's name inside the state directory.
const JournalFile = "journal.jsonl"

// Journal is an append-only JSON-lines record of every run and action,
// written before and after each action so an interrupted apply is visible.
type Journal struct {
	path string
}

// Phase marks where in its life a journal entry's subject is.
type Phase string

const (
	PhaseRunStart Phase = "run-start"
	PhaseRunEnd   Phase = "run-end"
	PhaseStart    Phase = "start"
	PhaseDone     Phase = "done"
	PhaseFailed   Phase = "failed"
	PhaseSkipped  Phase = "skipped"
)

// JournalEntry is one line of the journal.
type JournalEntry struct {
	Time     time.Time `json:"time"`
	Run      string    `json:"run"`
	Phase    Phase     `json:"phase"`
	Action   *Action   `json:"action,omitempty"`
	Bytes    int64     `json:"bytes,omitempty"`
	Seconds  float64   `json:"seconds,omitempty"`
	Error    string    `json:"error,omitempty"`
	Result   string    `json:"result,omitempty"`
	Revision string    `json:"revision,omitempty"`
	// Report is the evidence of a test or drill.
	Report *TestReport `json:"report,omitempty"`
	// Drives lists, on run-start, the external drives the plan found present.
	Drives []string `json:"drives,omitempty"`
	// Command names what started the run: apply, test or drill.
	Command string `json:"command,omitempty"`
}

// OpenJournal returns the journal in stateDir. The directory is created
// by the first Append, so reading commands leave no trace.
func OpenJournal(stateDir string) (*Journal, error) {
	return &Journal{path: filepath.Join(stateDir, JournalFile)}, nil
}

// Path is the journal file's path.
func (j *Journal) Path() string { return j.path }

// Append writes e and syncs, so the entry survives a crash right after.
func (j *Journal) Append(e JournalEntry) error {
	if err := os.MkdirAll(filepath.Dir(j.path), 0o750); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := dropTornLine(f); err != nil {
		f.Close()
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	if e.Report != nil {
		e.Report = e.Report.journaled()
	}
	b, err := json.Marshal(e)
	if err != nil {
		f.Close()
		return fmt.Errorf("journal: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	return f.Close()
}

// dropTornLine cuts a last line that a crash left without its newline, so
// the next entry does not glue onto it and make it unreadable for good.
func dropTornLine(f *os.File) error {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	size := st.Size()
	buf := make([]byte, 4096)
	end := size
	for end > 0 {
		start := max(end-int64(len(buf)), 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && n == 0 {
			return err
		}
		if end == size && buf[n-1] == '\n' {
			return nil // intact
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return f.Truncate(start + int64(i) + 1)
		}
		end = start
	}
	return f.Truncate(0)
}

// Entries reads the whole journal; lines may be of any length. A torn last
// line (a crash mid-write) is ignored; any other malformed line is skipped
// and reported (logged, and listed by Malformed), never fatal: one bad line
// must not hide years of history from every later command.
func (j *Journal) Entries() ([]JournalEntry, error) {
	entries, _, err := j.read()
	return entries, err
}

func (j *Journal) read() ([]JournalEntry, []string, error) {
	f, err := os.Open(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	var out []JournalEntry
	var malformed []string
	r := bufio.NewReaderSize(f, 64*1024)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("journal %s:%d: %w", j.path, line, err)
		}
		torn := errors.Is(err, io.EOF)
		if len(bytes.TrimSpace(b)) > 0 {
			var e JournalEntry
			if uerr := json.Unmarshal(b, &e); uerr == nil {
				out = append(out, e)
			} else if !torn {
				msg := fmt.Sprintf("%s:%d: malformed journal entry skipped: %v", j.path, line, uerr)
				slog.Warn(msg)
				malformed = append(malformed, msg)
			}
		}
		if torn {
			return out, malformed, nil
		}
	}
}

// JournalSummary is what the planner needs from history.
type JournalSummary struct {
	// LastSent maps a subvolume to the snapshot of its newest successful send.
	LastSent map[string]string
	// Interrupted are actions started by the newest run that has no end.
	Interrupted []JournalEntry
	// History holds each subvolume's backups, tests and drills.
	History map[string]*History
	// Runs counts finished runs by result; Last is the newest one.
	Runs map[string]int
	Last RunSummary
	// DriveSeen is when a run last found each external drive present.
	DriveSeen map[string]time.Time
	// Malformed names each journal line that was skipped as unreadable.
	Malformed []string
	// SendFailing holds, by subvolume, the failed sends since its last
	// successful one.
	SendFailing map[string]*SendFailure
}

// RunSummary describes one apply run.
type RunSummary struct {
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	Result  string    `json:"result"`
}

// Summary condenses the journal for the planner.
func (j *Journal) Summary() (JournalSummary, error) {
	entries, malformed, err := j.read()
	if err != nil {
		return JournalSummary{}, err
	}
	f := newJournalFold()
	for _, e := range entries {
		f.add(e)
	}
	s := f.summary()
	s.Malformed = malformed
	return s, nil
}

// journalFold condenses journal entries one at a time: Summary folds the
// whole journal, and a run folds its own entries into the observation it
// started from, so the evidence written after it needs no second reading.
type journalFold struct {
	s       JournalSummary
	started time.Time
	run     string
	ended   bool
	// starts are the current run's started actions, in order; open holds
	// those not finished yet.
	starts []JournalEntry
	open   map[string]bool
}

func newJournalFold() *journalFold {
	return &journalFold{ended: true, open: map[string]bool{},
		s: JournalSummary{LastSent: map[string]string{}, History: map[string]*History{}, Runs: map[string]int{}, DriveSeen: map[string]time.Time{},
			SendFailing: map[string]*SendFailure{}}}
}

func (f *journalFold) add(e JournalEntry) {
	s := &f.s
	switch e.Phase {
	case PhaseRunStart:
		for _, d := range e.Drives {
			s.DriveSeen[d] = e.Time
		}
		if isProofRun(e.Command) {
			return // tests and drills run by hand are not applies
		}
		f.run, f.ended, f.started = e.Run, false, e.Time
		f.starts, f.open = nil, map[string]bool{}
	case PhaseRunEnd:
		if isProofRun(e.Command) {
			return
		}
		if e.Run == f.run {
			f.ended = true
		}
		s.Runs[e.Result]++
		s.Last = RunSummary{Started: f.started, Ended: e.Time, Result: e.Result}
	case PhaseStart:
		if e.Run == f.run {
			f.starts = append(f.starts, e)
			f.open[actionKey(e.Action)] = true
		}
	case PhaseDone, PhaseFailed, PhaseSkipped:
		delete(f.open, actionKey(e.Action))
		if e.Action != nil {
			h := s.History[e.Action.Subvolume]
			if h == nil {
				h = &History{}
				s.History[e.Action.Subvolume] = h
			}
			h.record(e)
		}
		if e.Action != nil && e.Action.Kind == KindSend {
			recordSend(s.SendFailing, e)
			if e.Phase == PhaseDone {
				s.LastSent[e.Action.Subvolume] = e.Action.Snapshot
			}
		}
	}
}

// summary is the fold so far; its maps are shared with the fold.
func (f *journalFold) summary() JournalSummary {
	s := f.s
	s.Interrupted = nil
	if !f.ended {
		for _, e := range f.starts {
			if f.open[actionKey(e.Action)] {
				s.Interrupted = append(s.Interrupted, e)
			}
		}
	}
	if len(s.LastSent) == 0 {
		s.LastSent = nil
	}
	if len(s.History) == 0 {
		s.History = nil
	}
	if len(s.SendFailing) == 0 {
		s.SendFailing = nil
	}
	return s
}

// isProofRun tells the runs that are not applies: tests, drills and
// recoveries run by hand (an interrupted one is not for apply to repair).
func isProofRun(command string) bool {
	return command == "test" || command == "drill" || command == "recover"
}

func actionKey(a *Action) string {
	if a == nil {
		return ""
	}
	return string(a.Kind) + " " + a.Location + " " + a.Path
}
