package model

import (
	"maps"
	"slices"
)

// Off-site evidence: each target's sends, tests and drills are kept in a
// History of their own (History.Offsite), so the copies on a target are
// proven on their own cadence and the local cadence is not satisfied by
// them.

// offsiteHistory is the history of the copies on target, made on first use.
func (h *History) offsiteHistory(target string) *History {
	if h.Offsite == nil {
		h.Offsite = map[string]*History{}
	}
	oh := h.Offsite[target]
	if oh == nil {
		oh = &History{}
		h.Offsite[target] = oh
	}
	return oh
}

// recordOffsite folds an off-site send, test or drill into its target's
// history.
func (h *History) recordOffsite(e JournalEntry) {
	if e.Action.Offsite == nil {
		return
	}
	oh := h.offsiteHistory(e.Action.Offsite.Target)
	if e.Action.Kind == KindOffsiteSend {
		oh.LastBackup, oh.LastSend = &e, &e
		return
	}
	oh.recordProof(e.Report)
}

// TargetHistory is the history of the copies on target; empty, never
// nil, when nothing is recorded.
func (h *History) TargetHistory(target string) *History {
	if h == nil || h.Offsite[target] == nil {
		return &History{}
	}
	return h.Offsite[target]
}

// NewestVerified is the newest snapshot a passing test or drill verified
// of any copy (local, on the drive or off-site): the real RPO counts from
// it. Retention's fallback (the local Verified) stays with local copies.
func (h *History) NewestVerified() *TestReport {
	if h == nil {
		return nil
	}
	v := h.Verified
	for _, name := range slices.Sorted(maps.Keys(h.Offsite)) {
		if ov := h.Offsite[name].Verified; ov != nil && (v == nil || ov.SnapshotTime.After(v.SnapshotTime)) {
			v = ov
		}
	}
	return v
}

// OffsitePassesKey keys the Passes of a target's history in a checkpoint
// (a NUL never occurs in a name).
func OffsitePassesKey(owner, target string) string { return owner + "\x00" + target }
