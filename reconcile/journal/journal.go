// Package journal is drsync's record: an append-only JSON-lines journal of
// every run and action, its fold into what the planner needs, checkpoints
// of that fold, and rotation into compressed segments.
package journal

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drsync/drsync/reconcile/model"
)

// JournalFile is the journal's name inside the state directory.
const JournalFile = "journal.jsonl"

// Journal is an append-only JSON-lines record of every run and action,
// written before and after each action so an interrupted apply is visible.
type Journal struct {
	path string
	// end is the offset past the last line this process read or wrote,
	// which the checkpoint covers (-1: unknown).
	end int64
}

// OpenJournal returns the journal in stateDir. The directory is created
// by the first Append, so reading commands leave no trace.
func OpenJournal(stateDir string) (*Journal, error) {
	return &Journal{path: filepath.Join(stateDir, JournalFile), end: -1}, nil
}

// Path is the journal file's path.
func (j *Journal) Path() string { return j.path }

// Append writes e and syncs, so the entry survives a crash right after.
func (j *Journal) Append(e model.JournalEntry) error {
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
	b, err := json.Marshal(e.Journaled())
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
	if st, err := f.Stat(); err == nil {
		j.end = st.Size()
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
func (j *Journal) Entries() ([]model.JournalEntry, error) {
	entries, _, err := j.read()
	return entries, err
}

func (j *Journal) read() ([]model.JournalEntry, []string, error) {
	var out []model.JournalEntry
	f := NewFold()
	_, err := j.scanFile(j.path, 0, f, func(e model.JournalEntry) { out = append(out, e) })
	if err != nil {
		return nil, nil, err
	}
	return out, f.s.Malformed, nil
}

// scanFile reads the journal file at path from offset (gzip segments
// from 0), adding each entry to f and giving it to each (when not nil).
// It returns the offset just past the last complete line. A missing file
// is empty.
func (j *Journal) scanFile(path string, offset int64, f *Fold, each func(model.JournalEntry)) (int64, error) {
	file, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return offset, nil
	}
	if err != nil {
		return offset, fmt.Errorf("journal: %w", err)
	}
	defer file.Close()
	var src io.Reader = file
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(file)
		if err != nil {
			return offset, fmt.Errorf("journal segment %s: %w", path, err)
		}
		defer zr.Close()
		src = zr
	} else if _, err := file.Seek(offset, io.SeekStart); err != nil {
		return offset, fmt.Errorf("journal %s: %w", path, err)
	}
	r := bufio.NewReaderSize(src, 64*1024)
	pos := offset
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return pos, fmt.Errorf("journal %s:%d: %w", path, line, err)
		}
		torn := errors.Is(err, io.EOF)
		if torn {
			return pos, nil // a torn last line is not covered yet
		}
		where := fmt.Sprintf("%s:%d", path, line)
		if offset > 0 {
			where = fmt.Sprintf("%s (byte %d)", path, pos)
		}
		pos += int64(len(b))
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var e model.JournalEntry
		if uerr := json.Unmarshal(b, &e); uerr != nil {
			msg := fmt.Sprintf("%s: malformed journal entry skipped: %v", where, uerr)
			slog.Warn(msg)
			f.s.Malformed = append(f.s.Malformed, msg)
			continue
		}
		f.Add(e)
		if each != nil {
			each(e)
		}
	}
}

// JournalSummary is what the planner needs from history.
type JournalSummary struct {
	// LastSent maps a subvolume to the snapshot of its newest successful send.
	LastSent map[string]string
	// Interrupted are actions started by the newest run that has no end.
	Interrupted []model.JournalEntry
	// History holds each subvolume's backups, tests and drills.
	History map[string]*model.History
	// Runs counts finished runs by result; Last is the newest one.
	Runs map[string]int
	Last model.RunSummary
	// DriveSeen is when a run last found each external drive present.
	DriveSeen map[string]time.Time
	// Malformed names each journal line that was skipped as unreadable.
	Malformed []string
	// SendFailing holds, by subvolume, the failed sends since its last
	// successful one.
	SendFailing map[string]*model.SendFailure
	// Newest is the time of the newest entry folded.
	Newest time.Time
}

// Summary condenses the journal for the planner: the checkpoint and the
// journal after it (see load).
func (j *Journal) Summary() (JournalSummary, error) {
	f, err := j.Load()
	if err != nil {
		return JournalSummary{}, err
	}
	return f.Summary(), nil
}

// Fold condenses journal entries one at a time: Summary folds the
// whole journal, and a run folds its own entries into the observation it
// started from, so the evidence written after it needs no second reading.
type Fold struct {
	s       JournalSummary
	started time.Time
	run     string
	ended   bool
	// starts are the current run's started actions, in order; open holds
	// those not finished yet.
	starts []model.JournalEntry
	open   map[string]bool
}

func NewFold() *Fold {
	return &Fold{ended: true, open: map[string]bool{},
		s: JournalSummary{LastSent: map[string]string{}, History: map[string]*model.History{}, Runs: map[string]int{}, DriveSeen: map[string]time.Time{},
			SendFailing: map[string]*model.SendFailure{}}}
}

func (f *Fold) Add(e model.JournalEntry) {
	s := &f.s
	if e.Time.After(s.Newest) {
		s.Newest = e.Time
	}
	switch e.Phase {
	case model.PhaseRunStart:
		for _, d := range e.Drives {
			s.DriveSeen[d] = e.Time
		}
		if isProofRun(e.Command) {
			return // tests and drills run by hand are not applies
		}
		f.run, f.ended, f.started = e.Run, false, e.Time
		f.starts, f.open = nil, map[string]bool{}
	case model.PhaseRunEnd:
		if isProofRun(e.Command) {
			return
		}
		if e.Run == f.run {
			f.ended = true
		}
		s.Runs[e.Result]++
		s.Last = model.RunSummary{Started: f.started, Ended: e.Time, Result: e.Result}
	case model.PhaseStart:
		if e.Run == f.run {
			f.starts = append(f.starts, e)
			f.open[actionKey(e.Action)] = true
		}
	case model.PhaseDone, model.PhaseFailed, model.PhaseSkipped:
		delete(f.open, actionKey(e.Action))
		if e.Action != nil {
			h := s.History[e.Action.Subvolume]
			if h == nil {
				h = &model.History{}
				s.History[e.Action.Subvolume] = h
			}
			h.Record(e)
		}
		if e.Action != nil && e.Action.Kind == model.KindSend {
			model.RecordSend(s.SendFailing, e)
			if e.Phase == model.PhaseDone {
				s.LastSent[e.Action.Subvolume] = e.Action.Snapshot
			}
		}
	}
}

// summary is the fold so far; its maps are shared with the fold.
func (f *Fold) Summary() JournalSummary {
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

func actionKey(a *model.Action) string {
	if a == nil {
		return ""
	}
	return string(a.Kind) + " " + a.Location + " " + a.Path
}
