package journal

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drsync/drsync/reconcile/model"
)

// The journal stays the write-ahead record; what the planner needs from
// it (the fold) is kept in a small JSON checkpoint next to it, naming the
// byte offset of the journal it covers. A JSON file, not an embedded
// database: the fold is a few kilobytes whatever the journal's age, it is
// rewritten whole after each run (temp file, fsync, rename), and it needs
// no dependency. A run reads the checkpoint and only the journal after it.
const (
	CheckpointFile = "journal.checkpoint.json"
	// checkpointVersion changes when the fold's shape does; another
	// version is ignored (the segments are replayed instead).
	checkpointVersion = 1
	// segmentPrefix and segmentSuffix name rotated, compressed journal
	// segments: journal-<first entry's time, UTC>.jsonl.gz, so their
	// names sort in time order.
	segmentPrefix = "journal-"
	segmentSuffix = ".jsonl.gz"
)

// checkpoint is the fold of the journal up to Offset of the active
// journal file whose first line has the SHA-256 Head ("" when Offset is 0:
// a journal started after a rotation).
type checkpoint struct {
	Version int       `json:"version"`
	Offset  int64     `json:"offset"`
	Head    string    `json:"head,omitempty"`
	Fold    foldState `json:"fold"`
}

// foldState is Fold with its unexported fields exported for JSON.
type foldState struct {
	Summary JournalSummary       `json:"summary"`
	Started time.Time            `json:"started"`
	Run     string               `json:"run,omitempty"`
	Ended   bool                 `json:"ended"`
	Starts  []model.JournalEntry `json:"starts,omitempty"`
	Open    map[string]bool      `json:"open,omitempty"`
	// Passes holds each History's Passes, by subvolume (kept
	// out of History's own JSON, which status and --json show).
	Passes map[string][]*model.TestReport `json:"passes,omitempty"`
}

// state is f as the checkpoint stores it.
func (f *Fold) state() foldState {
	passes := map[string][]*model.TestReport{}
	for name, h := range f.s.History {
		if len(h.Passes) > 0 {
			passes[name] = h.Passes
		}
		for t, oh := range h.Offsite {
			if len(oh.Passes) > 0 {
				passes[model.OffsitePassesKey(name, t)] = oh.Passes
			}
		}
	}
	return foldState{Summary: f.s, Started: f.started, Run: f.run, Ended: f.ended, Starts: f.starts, Open: f.open, Passes: passes}
}

// fold is the Fold a checkpoint stored as st.
func (st *foldState) fold() *Fold {
	nf := NewFold()
	nf.started, nf.run, nf.ended, nf.starts = st.Started, st.Run, st.Ended, st.Starts
	for k, v := range st.Open {
		nf.open[k] = v
	}
	s := st.Summary
	s.Interrupted = nil // derived from starts and open
	for k, v := range s.LastSent {
		nf.s.LastSent[k] = v
	}
	for k, v := range s.History {
		v.Passes = st.Passes[k]
		for t, oh := range v.Offsite {
			oh.Passes = st.Passes[model.OffsitePassesKey(k, t)]
		}
		nf.s.History[k] = v
	}
	for k, v := range s.Runs {
		nf.s.Runs[k] = v
	}
	for k, v := range s.DriveSeen {
		nf.s.DriveSeen[k] = v
	}
	for k, v := range s.SendFailing {
		nf.s.SendFailing[k] = v
	}
	nf.s.Last, nf.s.Malformed, nf.s.Newest = s.Last, s.Malformed, s.Newest
	return nf
}

func (j *Journal) dir() string { return filepath.Dir(j.path) }

// load folds the journal: the checkpoint and the active journal after its
// offset or, when the checkpoint is missing, unreadable or does not
// describe the active journal, every segment and the whole active journal
// (logged). It leaves j.end at the offset it read to.
func (j *Journal) Load() (*Fold, error) {
	cp, why := j.readCheckpoint()
	if why == "" {
		f := cp.Fold.fold()
		end, err := j.scanFile(j.path, cp.Offset, f, nil)
		if err != nil {
			return nil, err
		}
		j.end = end
		return f, nil
	}
	f := NewFold()
	segs, err := j.segments()
	if err != nil {
		return nil, err
	}
	for _, seg := range segs {
		if _, err := j.scanFile(seg, 0, f, nil); err != nil {
			return nil, err
		}
	}
	end, err := j.scanFile(j.path, 0, f, nil)
	if err != nil {
		return nil, err
	}
	j.end = end
	if !f.s.Newest.IsZero() { // silent when there is no history at all
		slog.Info("journal checkpoint not used: replayed every journal segment", "reason", why, "segments", len(segs), "dir", j.dir())
	}
	return f, nil
}

// readCheckpoint returns the checkpoint, or why it cannot be used.
func (j *Journal) readCheckpoint() (checkpoint, string) {
	var cp checkpoint
	b, err := os.ReadFile(filepath.Join(j.dir(), CheckpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return cp, "no checkpoint"
	}
	if err != nil {
		return cp, err.Error()
	}
	// One pass over the file, fold included: validating and decoding the
	// fold again at each nesting level took 40 % of loading it.
	if err := json.Unmarshal(b, &cp); err != nil {
		// An older version's fold may not decode: then its version is
		// the reason to give.
		var v struct {
			Version int `json:"version"`
		}
		if json.Unmarshal(b, &v) != nil || v.Version == checkpointVersion {
			return cp, fmt.Sprintf("%s: %v", CheckpointFile, err)
		}
		cp.Version = v.Version
	}
	if cp.Version != checkpointVersion {
		return cp, fmt.Sprintf("%s: version %d, want %d", CheckpointFile, cp.Version, checkpointVersion)
	}
	head, size, err := journalHead(j.path)
	if err != nil {
		return cp, err.Error()
	}
	if size < cp.Offset || head != cp.Head && cp.Offset > 0 {
		return cp, "the checkpoint covers another journal (rotated or replaced)"
	}
	return cp, ""
}

// journalHead is the SHA-256 of the journal's first line ("" for an empty
// or missing journal) and the journal's size. A run's first line names
// the run, so it tells one journal from the next.
func journalHead(path string) (string, int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", 0, fmt.Errorf("journal: %w", err)
	}
	line, err := bufio.NewReader(f).ReadBytes('\n')
	if errors.Is(err, io.EOF) {
		return "", st.Size(), nil // no complete line yet
	}
	if err != nil {
		return "", 0, fmt.Errorf("journal %s: %w", path, err)
	}
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:]), st.Size(), nil
}

// segments are the rotated journal segments, oldest first.
func (j *Journal) segments() ([]string, error) {
	entries, err := os.ReadDir(j.dir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), segmentPrefix) && strings.HasSuffix(e.Name(), segmentSuffix) {
			out = append(out, filepath.Join(j.dir(), e.Name()))
		}
	}
	slices.Sort(out)
	return out, nil
}

// saveCheckpoint writes f as the fold of the journal up to j.end. It
// refuses when the journal is not the size this process left it at
// (another writer): the next run then replays a little more.
func (j *Journal) saveCheckpoint(f *Fold) error {
	head, size, err := journalHead(j.path)
	if err != nil {
		return err
	}
	if j.end < 0 || size != j.end {
		return fmt.Errorf("journal %s is %d bytes, not the %d this run read and wrote: checkpoint not written", j.path, size, j.end)
	}
	b, err := json.Marshal(checkpoint{Version: checkpointVersion, Offset: j.end, Head: head, Fold: f.state()})
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return writeAtomic(filepath.Join(j.dir(), CheckpointFile), b)
}

// writeAtomic replaces path with b: a temporary file, synced, renamed
// over path, and the directory synced, so a crash leaves the old or the
// new file, never a torn one.
func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // gone after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return nil
}
