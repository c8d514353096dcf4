// historygen writes the journal that hourly reconciles of a desired state
// would leave after a given time, synthetically (no btrfs): each hour a
// snapshot of every subvolume, a daily send and prune, weekly tests and
// monthly drills, and the generated files rewritten. Whenever the journal
// passes the rotation size it is compacted as the end of a run would
// (checkpoint, gzip segment, expiry), so the state directory looks like
// drsync's own after that long.
//
//	go run ./bench/historygen -f examples/desired/homelab.cue -t root=/tmp/x -hours 87600
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

func main() {
	file := flag.String("f", "", "desired state (CUE)")
	tag := flag.String("t", "", "a CUE tag, e.g. root=/tmp/x")
	hours := flag.Int("hours", 24, "hourly runs to generate")
	end := flag.String("end", "", "time of the last run (RFC 3339; default now)")
	flag.Parse()
	var tags []string
	if *tag != "" {
		tags = []string{*tag}
	}
	d, err := schema.Load(*file, tags)
	if err != nil {
		log.Fatal(err)
	}
	last := time.Now().UTC().Truncate(time.Hour)
	if *end != "" {
		if last, err = time.Parse(time.RFC3339, *end); err != nil {
			log.Fatal(err)
		}
	}
	if err := generate(d, last.Add(-time.Duration(*hours-1)*time.Hour), *hours); err != nil {
		log.Fatal(err)
	}
}

func generate(d *schema.Desired, first time.Time, hours int) error {
	if err := os.MkdirAll(d.StateDir, 0o750); err != nil {
		return err
	}
	path := filepath.Join(d.StateDir, journal.JournalFile)
	names := d.SubvolumeNames()
	content := strings.Repeat("generated file line\n", 40) // journaled as digest and size
	for h := 0; h < hours; {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		var size int64
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		var now time.Time
		// Up to the rotation size, then compact as a run's end does.
		for ; h < hours && size < journal.RotateSize; h++ {
			now = first.Add(time.Duration(h) * time.Hour)
			n, werr := writeRun(w, now, names, content)
			if werr != nil {
				return werr
			}
			size += n
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := journal.CompactJournal(d.StateDir, now, d.History.Keep.Duration); err != nil {
			return err
		}
	}
	return nil
}

// writeRun journals one hourly apply and returns the bytes written.
func writeRun(w *bufio.Writer, now time.Time, names []string, content string) (int64, error) {
	run := fmt.Sprintf("%s-1", now.Format("20060102T150405.000"))
	var entries []model.JournalEntry
	entries = append(entries, model.JournalEntry{Time: now, Run: run, Phase: model.PhaseRunStart, Command: "apply", Drives: drives(now)})
	act := func(a model.Action, bytes int64, rep *model.TestReport) {
		entries = append(entries,
			model.JournalEntry{Time: now, Run: run, Phase: model.PhaseStart, Action: &a},
			model.JournalEntry{Time: now.Add(time.Second), Run: run, Phase: model.PhaseDone, Action: &a, Bytes: bytes, Seconds: 1, Report: rep})
	}
	for _, sv := range names {
		snap := sv + "." + now.Format("20060102T1504")
		act(model.Action{Kind: model.KindSnapshot, Subvolume: sv, Location: "pool", Snapshot: snap, Path: "/snapshots/" + snap, Reason: "schedule"}, 0, nil)
		if now.Hour() == 3 {
			act(model.Action{Kind: model.KindSend, Subvolume: sv, Location: "drive", Snapshot: snap, Path: "/drive/" + snap, External: true, Reason: "schedule"}, 1<<30, nil)
			old := sv + "." + now.AddDate(0, -13, 0).Format("20060102T1504")
			act(model.Action{Kind: model.KindPrune, Subvolume: sv, Location: "pool", Snapshot: old, Path: "/snapshots/" + old, Reason: "retention"}, 0, nil)
		}
		if now.Weekday() == time.Sunday && now.Hour() == 4 {
			kind := model.KindTest
			if now.Day() <= 7 {
				kind = model.KindDrill
			}
			rep := &model.TestReport{Kind: kind, Subvolume: sv, Snapshot: snap, SnapshotTime: now, Location: "drive", Result: model.ResultPass, Files: 50, Bytes: 1 << 20, Seconds: 2, Started: now}
			act(model.Action{Kind: kind, Subvolume: sv, Location: "drive", Snapshot: snap, Path: "/drive/" + snap, Reason: "proof due"}, 1<<20, rep)
		}
	}
	// The metrics and a runbook are rewritten every hour.
	for _, p := range []string{"/var/lib/drsync/metrics.prom", "/runbooks/restore.md"} {
		act(model.Action{Kind: model.KindWrite, Path: p, Reason: "file differs", Write: &model.WriteSpec{Content: content}}, 0, nil)
	}
	entries = append(entries, model.JournalEntry{Time: now.Add(time.Minute), Run: run, Phase: model.PhaseRunEnd, Command: "apply", Result: "ok"})
	var n int64
	for _, e := range entries {
		e = e.Journaled()
		b, err := json.Marshal(e)
		if err != nil {
			return n, err
		}
		m, err := w.Write(append(b, '\n'))
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// drives: the external drive is plugged in from 02:00 to 06:00.
func drives(now time.Time) []string {
	if now.Hour() >= 2 && now.Hour() < 6 {
		return []string{"drive"}
	}
	return nil
}
