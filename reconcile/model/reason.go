package model

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/drsync/drsync/schedule"
	"github.com/drsync/drsync/schema"
)

// ReasonCode is the kind of reason an action is planned for.
type ReasonCode string

const (
	BecauseSchedule     ReasonCode = "schedule"            // a schedule wants a new snapshot, archive or replica
	BecauseResend       ReasonCode = "resend"              // a half-received replica was removed: send again
	BecauseDriveLacks   ReasonCode = "drive-lacks-archive" // the drive lacks the newest archive
	BecauseHalfReceived ReasonCode = "half-received"       // an interrupted receive left this replica
	BecauseProofDue     ReasonCode = "proof-due"           // the tier's test or drill is due
	BecauseRequested    ReasonCode = "requested"           // asked for by hand (drsync test, drsync drill)
	BecauseRetention    ReasonCode = "retention"           // no retention rule keeps it
	BecauseNewFile      ReasonCode = "new-file"            // a generated file does not exist yet
	BecauseFileDiffers  ReasonCode = "file-differs"        // a generated file differs from its rendering
)

// Reason says why an action is planned, as data; Text is its one wording.
type Reason struct {
	Code ReasonCode `json:"code"`
	Tier string     `json:"tier,omitempty"`
	// Subject is what a schedule counts: "local snapshot", "archive" or
	// "replica".
	Subject  string            `json:"subject,omitempty"`
	Schedule *schedule.Verdict `json:"schedule,omitempty"`
	// Send is set on sends of snapshots: the parent of an incremental
	// send, or a full send.
	Send *SendWhy `json:"send,omitempty"`
	// Proof is the verdict on a test's or drill's history.
	Proof *ProofWhy `json:"proof,omitempty"`
	// Retention is retention's verdict on a pruned copy.
	Retention *RetentionWhy `json:"retention,omitempty"`
	// Detail completes the reasons that need a word more: why a replica
	// counts as half-received, how big a generated file's change is, that
	// the only snapshots are dated in the future.
	Detail string `json:"detail,omitempty"`
}

// SendWhy says how a snapshot is sent.
type SendWhy struct {
	// Parent is the snapshot an incremental send is relative to; "" is a
	// full send (no common parent on the drive).
	Parent string `json:"parent,omitempty"`
	// Avoided are the common parents passed over because an incremental
	// send from them failed since the last successful send.
	Avoided []string `json:"avoided,omitempty"`
}

// ProofWhy is why a test or drill is due.
type ProofWhy struct {
	// What is "restore test" or "drill".
	What string `json:"what"`
	// Last is the result of the last one: ResultPass, ResultFail, or ""
	// when there never was one. Age is how long ago it ran, and Snapshot
	// what a failed one tested.
	Last     Result          `json:"last,omitempty"`
	Age      schema.Duration `json:"age,omitzero"`
	Snapshot string          `json:"snapshot,omitempty"`
	// Every is the tier's cadence.
	Every schema.Duration `json:"every"`
	// LocalFallback says the drive holds no replica, so the local
	// snapshot is tested.
	LocalFallback bool `json:"localFallback,omitempty"`
	// Target names the off-site target whose copy is proven; its entry
	// may declare its own cadence (Declared).
	Target   string `json:"target,omitempty"`
	Declared bool   `json:"declared,omitempty"`
	// Slice says which coverage slice a test verifies, and its size.
	Slice string `json:"slice,omitempty"`
}

// RetentionWhy is retention's verdict on a copy it does not keep.
type RetentionWhy struct {
	// Rule is the rule that came closest to keeping it ("daily", ...).
	Rule string `json:"rule,omitempty"`
	// Verdict is retention's own explanation.
	Verdict string `json:"verdict"`
}

// Text words the reason for people: the plan's text, the journal, watch's
// status.
func (r Reason) Text() string {
	tier := "tier " + r.Tier + ": "
	switch r.Code {
	case BecauseSchedule:
		text := scheduleText(r.Subject, r.Schedule)
		if r.Detail != "" {
			text += " " + r.Detail
		}
		return tier + text + r.Send.text()
	case BecauseResend:
		return tier + "re-sending after removing a half-received copy" + r.Send.text()
	case BecauseDriveLacks:
		return tier + "the drive lacks the newest archive"
	case BecauseHalfReceived:
		return "half-received (" + r.Detail + "): an interrupted send; removed and sent again"
	case BecauseProofDue:
		return r.Proof.text(r.Tier)
	case BecauseRetention:
		return r.Retention.Verdict
	case BecauseNewFile:
		return "new file, " + r.Detail
	case BecauseFileDiffers:
		return "content differs: " + r.Detail
	}
	return string(r.Code)
}

// scheduleText words a due schedule verdict about subject.
func scheduleText(subject string, v *schedule.Verdict) string {
	if v.Why == schedule.NoneYet {
		if subject == "replica" {
			return "no replica on the drive yet"
		}
		return "no " + subject + " yet"
	}
	text := "newest " + subject + " is " + schema.Age(v.Age.Duration) + " old; "
	switch {
	case v.Every.Duration != 0:
		return text + "wants one every " + schema.FormatDuration(v.Every.Duration)
	case v.Want != "":
		return text + strconv.Quote(v.Rule) + " wants " + v.Want + " or newer on the drive since " + v.Since.Format("2006-01-02 15:04")
	default:
		return text + strconv.Quote(v.Rule) + " wants one since " + v.Since.Format("2006-01-02 15:04")
	}
}

func (s *SendWhy) text() string {
	switch {
	case s == nil:
		return ""
	case s.Parent != "" && len(s.Avoided) > 0:
		return "; incremental from " + s.Parent + ", not from " + strings.Join(s.Avoided, ", ") + " (a send from it failed)"
	case s.Parent != "":
		return "; incremental from " + s.Parent
	case len(s.Avoided) > 0:
		return "; full send (a send from " + strings.Join(s.Avoided, ", ") + " failed; no other common parent on the drive)"
	default:
		return "; full send (no common parent on the drive)"
	}
}

func (p *ProofWhy) text(tier string) string {
	want := fmt.Sprintf("tier %s wants one every %s", tier, schema.FormatDuration(p.Every.Duration))
	if p.Declared {
		want = fmt.Sprintf("its copies on %s want one every %s", p.Target, schema.FormatDuration(p.Every.Duration))
	}
	var text string
	switch p.Last {
	case ResultFail:
		text = fmt.Sprintf("last %s FAILED %s ago (%s); retrying", p.What, schema.Age(p.Age.Duration), p.Snapshot)
	case "":
		never := "never tested; "
		if p.What == "drill" {
			never = "never drilled; "
		}
		text = never + want
	default:
		text = fmt.Sprintf("last passed %s ago; %s", schema.Age(p.Age.Duration), want)
	}
	if p.LocalFallback {
		text += "; no replica on the drive, so the local snapshot"
	}
	if p.Slice != "" {
		text += "; verifies " + p.Slice
	}
	return text
}

// because sets an action's reason and its wording.
func (a *Action) Because(r Reason) {
	a.Why, a.Reason = r, r.Text()
}
