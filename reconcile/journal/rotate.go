package journal

import (
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drsync/drsync/reconcile/model"
)

// RotateSize is the journal size past which a run's end rotates it into
// a compressed segment.
const RotateSize = 8 << 20

// keepHistory runs at the end of every apply: it checkpoints the fold the
// run ends with, rotates a journal grown past rotateAt, and deletes
// segments whose newest entry is older than keep (0 keeps them all).
// Failures are returned for logging: the journal stays the record, and
// the next run replays more.
func (j *Journal) KeepHistory(f *Fold, now time.Time, keep time.Duration, rotateAt int64) error {
	if err := j.saveCheckpoint(f); err != nil {
		return err
	}
	if j.end > rotateAt {
		if err := j.rotate(f); err != nil {
			return err
		}
	}
	if keep > 0 {
		return j.expireSegments(now.Add(-keep))
	}
	return nil
}

// rotate seals the active journal (covered by the checkpoint just
// written) as a gzip segment and starts an empty one. Each step leaves a
// state load reads correctly: until the journal is removed the
// checkpoint still describes it (and a half-written segment has a temp
// name, or is rewritten whole by the next rotation under the same name);
// after, the old checkpoint no longer matches the missing journal, so
// everything is replayed from the segments, until the checkpoint at
// offset 0 is written.
func (j *Journal) rotate(f *Fold) error {
	first, err := firstEntryTime(j.path)
	if err != nil {
		return err
	}
	seg := filepath.Join(j.dir(), segmentPrefix+first.UTC().Format("20060102T150405.000000000Z")+segmentSuffix)
	if err := gzipAtomic(j.path, seg, f.s.Newest); err != nil {
		return err
	}
	if err := os.Remove(j.path); err != nil {
		return fmt.Errorf("journal rotation: %w", err)
	}
	if err := syncDir(j.dir()); err != nil {
		return err
	}
	j.end = 0
	slog.Info("journal rotated", "segment", seg)
	return j.saveCheckpoint(f)
}

// firstEntryTime is the time of the journal's first entry.
func firstEntryTime(path string) (time.Time, error) {
	var first time.Time
	j := &Journal{path: path}
	_, err := j.scanFile(path, 0, NewFold(), func(e model.JournalEntry) {
		if first.IsZero() {
			first = e.Time
		}
	})
	return first, err
}

// gzipAtomic compresses src into dst (temp, fsync, rename) and dates dst
// by newest, the time of its newest entry, which expiry reads.
func gzipAtomic(src, dst string, newest time.Time) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("journal rotation: %w", err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return fmt.Errorf("journal rotation: %w", err)
	}
	defer os.Remove(tmp.Name())
	zw := gzip.NewWriter(tmp)
	if _, err := io.Copy(zw, in); err != nil {
		tmp.Close()
		return fmt.Errorf("journal rotation: %w", err)
	}
	if err := zw.Close(); err != nil {
		tmp.Close()
		return fmt.Errorf("journal rotation: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("journal rotation: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("journal rotation: %w", err)
	}
	if !newest.IsZero() {
		if err := os.Chtimes(tmp.Name(), newest, newest); err != nil {
			return fmt.Errorf("journal rotation: %w", err)
		}
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("journal rotation: %w", err)
	}
	return syncDir(filepath.Dir(dst))
}

// expireSegments deletes the segments whose newest entry (their
// modification time) is before cutoff. The checkpoint keeps what the
// planner needs from them.
func (j *Journal) expireSegments(cutoff time.Time) error {
	segs, err := j.segments()
	if err != nil {
		return err
	}
	for _, seg := range segs {
		st, err := os.Lstat(seg)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		if st.ModTime().Before(cutoff) {
			if err := os.Remove(seg); err != nil {
				return fmt.Errorf("expiring journal segment: %w", err)
			}
			slog.Info("journal segment expired", "segment", strings.TrimPrefix(seg, j.dir()+"/"), "newest", st.ModTime())
		}
	}
	return nil
}

// CompactJournal does for the journal in stateDir what the end of a run
// does: checkpoint, rotate past RotateSize, expire segments older than
// keep at now. bench/historygen uses it to age a synthetic journal the way
// years of runs would.
func CompactJournal(stateDir string, now time.Time, keep time.Duration) error {
	j, err := OpenJournal(stateDir)
	if err != nil {
		return err
	}
	f, err := j.Load()
	if err != nil {
		return err
	}
	return j.KeepHistory(f, now, keep, RotateSize)
}
