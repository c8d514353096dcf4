package view

import "time"

// Off-site copies (an ssh host, an S3 bucket): the metrics, the alert
// rules and their tests, and the dashboard have one row per copy.

// OffsiteStatus is the recorded evidence about the copies of one
// subvolume or service on one off-site target.
type OffsiteStatus struct {
	// Observed says Copies was counted on the target by this run; Newest
	// may still be known from the last send when it was not.
	Observed bool
	Copies   int       // restorable copies on the target
	Newest   time.Time // snapshot time of the newest restorable copy (zero = none known)
	// LastSuccess and SentBytes are of the last successful send there.
	LastSuccess time.Time
	SentBytes   int64
	Test        *TestEvidence  // newest restore test of a copy there
	Verified    time.Time      // newest snapshot a passing test or drill there verified
	Drill       *DrillEvidence // newest drill from there: its duration is DR-004's RTO
}

// OffsiteCopy is one declared pair of a subvolume (or service) and a
// target, with its cadences resolved and its evidence attached.
type OffsiteCopy struct {
	Owner      Subvolume
	Target     string
	Kind       string
	Interval   time.Duration // of sends there
	TestEvery  time.Duration
	DrillEvery time.Duration // zero: no drills
	Status     OffsiteStatus
	Known      bool
}

// OffsiteCopies lists the declared off-site copies: subvolumes first, then
// services, each by target name.
func OffsiteCopies(in Input) []OffsiteCopy {
	d := in.Desired
	var out []OffsiteCopy
	for _, s := range Tracked(in) {
		sub, svc := d.Subvolumes[s.Name], d.Services[s.Name]
		for _, name := range d.TargetNames() {
			c := OffsiteCopy{Owner: s, Target: name, Kind: d.Targets[name].Kind}
			switch {
			case sub != nil && sub == s.Subvolume:
				sends, ok := sub.Offsite[name]
				if !ok {
					continue
				}
				c.Interval = sends.Schedule.Period()
				c.TestEvery = d.OffsiteTestEvery(sub.Tier, sends.RestoreTest)
				c.DrillEvery = d.OffsiteDrillEvery(sub.Tier, sends.Drill)
			case svc != nil:
				copies, ok := svc.Offsite[name]
				if !ok {
					continue
				}
				c.Interval = svc.Schedule.Period()
				c.TestEvery = d.OffsiteTestEvery(svc.Tier, copies.RestoreTest)
			default:
				continue
			}
			c.Status, c.Known = s.Status.Offsite[name]
			out = append(out, c)
		}
	}
	return out
}
