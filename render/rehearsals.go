package render

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/drsync/drsync/render/runbook"
	"github.com/drsync/drsync/render/view"
)

// Rehearsal metrics, by runbook: its declared cadence and its newest
// rehearsal.
var (
	rbLabels           = []string{"runbook"}
	mRehearsalInterval = desc("backup_rehearsal_interval_seconds", "How often the runbook is to be rehearsed on a sandbox (drsync rehearse); absent when no cadence is declared.", rbLabels)
	mRehearsalSuccess  = desc("backup_rehearsal_success", "Whether the runbook's newest rehearsal passed (1) or failed (0).", rbLabels)
	mRehearsalLastRun  = desc("backup_rehearsal_last_run_timestamp", "Unix time of the runbook's newest rehearsal.", rbLabels)
	mRehearsalLastOK   = desc("backup_rehearsal_last_success_timestamp", "Unix time of the runbook's newest passing rehearsal.", rbLabels)
	mRehearsalDuration = desc("backup_rehearsal_duration_seconds", "Duration of the runbook's newest rehearsal, sandbox included.", rbLabels)
	mRehearsalBytes    = desc("backup_rehearsal_bytes", "Bytes the runbook's newest rehearsal recovered and compared.", rbLabels)
)

// collectRehearsals exports each runbook's declared cadence and its
// newest rehearsal; a runbook never rehearsed has no evidence samples.
func collectRehearsals(in view.Input, gauge func(*prometheus.Desc, float64, ...string)) {
	for _, id := range runbook.IDs() {
		if r, ok := in.Desired.Rehearsals[id]; ok {
			gauge(mRehearsalInterval, seconds(r.Every.Duration), id)
		}
		e, ok := in.Rehearsals[id]
		if !ok {
			continue
		}
		gauge(mRehearsalSuccess, boolean(e.Passed), id)
		gauge(mRehearsalLastRun, unix(e.Time), id)
		gauge(mRehearsalDuration, seconds(e.Duration), id)
		gauge(mRehearsalBytes, float64(e.Bytes), id)
		if !e.LastSuccess.IsZero() {
			gauge(mRehearsalLastOK, unix(e.LastSuccess), id)
		}
	}
}
