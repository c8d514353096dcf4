package reconcile

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/drsync/drsync/retention"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
)

// Plan is the diff between desired and observed state.
type Plan struct {
	// Version is PlanVersion: the format of the plan and its actions.
	Version     int             `json:"version"`
	Desired     string          `json:"desired"`
	Now         time.Time       `json:"now"`
	Fingerprint string          `json:"fingerprint"`
	Drives      []DriveNote     `json:"drives,omitempty"`
	Warnings    []string        `json:"warnings,omitempty"`
	Subvolumes  []SubvolumePlan `json:"subvolumes"`
	// Services are the monitored services' archives.
	Services []SubvolumePlan `json:"services,omitempty"`
	// Files are the writes of generated files (rules, dashboard, units,
	// runbooks).
	Files []Action `json:"files,omitempty"`
	// FilesError says why generated files could not be rendered.
	FilesError string `json:"filesError,omitempty"`
}

// DriveNote is an external drive's state as the plan reports it.
type DriveNote struct {
	Location string `json:"location"`
	Drive
}

// SubvolumePlan groups one subvolume's actions, warnings and, for
// --explain, the verdict of retention on every snapshot.
type SubvolumePlan struct {
	Name string `json:"name"`
	Tier string `json:"tier"`
	// Kind is empty for a subvolume, "service: <kind>" for a service.
	Kind      string          `json:"kind,omitempty"`
	Actions   []Action        `json:"actions"`
	Warnings  []string        `json:"warnings,omitempty"`
	Retention []RetentionNote `json:"retention,omitempty"`
	Foreign   []string        `json:"foreign,omitempty"`
}

// RetentionNote says why a snapshot in a location is kept or pruned.
type RetentionNote struct {
	Location string `json:"location"`
	Snapshot string `json:"snapshot"`
	Keep     bool   `json:"keep"`
	Reason   string `json:"reason"`
}

// Actions returns every action of the plan in apply order.
func (p *Plan) Actions() []Action {
	var all []Action
	for _, s := range p.Subvolumes {
		all = append(all, s.Actions...)
	}
	for _, s := range p.Services {
		all = append(all, s.Actions...)
	}
	all = append(all, p.Files...)
	sortActions(all)
	return all
}

// Count returns how many actions of each kind the plan holds.
func (p *Plan) Count() map[Kind]int {
	n := map[Kind]int{}
	for _, a := range p.Actions() {
		n[a.Kind]++
	}
	return n
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Actions()) == 0 }

// Compute is the planner: pure, deterministic for (desired, observed, now).
// now carries the local time zone that schedules and retention use.
func Compute(d *schema.Desired, o *Observed, now time.Time) *Plan {
	p := &Plan{Version: PlanVersion, Desired: d.Source, Now: now, Fingerprint: o.Fingerprint()}
	for _, name := range slices.Sorted(maps.Keys(d.Locations)) {
		if d.Locations[name].External {
			p.Drives = append(p.Drives, DriveNote{Location: name, Drive: o.Drives[name]})
		}
	}
	p.Warnings = append(p.Warnings, d.Warnings()...)
	p.Warnings = append(p.Warnings, o.JournalMalformed...)
	for _, e := range o.Interrupted {
		p.Warnings = append(p.Warnings, fmt.Sprintf("an apply at %s stopped during %s %s; this plan repairs what it left",
			e.Time.In(now.Location()).Format("2006-01-02 15:04"), e.Action.Kind, e.Action.Snapshot))
	}
	for _, name := range d.SubvolumeNames() {
		st := o.Subvolumes[name]
		if st == nil {
			st = &SubvolumeState{}
		}
		sp := planSubvolume(d, d.Subvolumes[name], st, o, now)
		sp.markExternal(d, o)
		sp.planOffsite(d, d.Subvolumes[name], st, o, now)
		p.Subvolumes = append(p.Subvolumes, sp)
	}
	p.Warnings = append(p.Warnings, offsiteWarnings(d, o)...)
	for _, name := range d.ServiceNames() {
		if st := o.Services[name]; st != nil {
			sp := planService(d, d.Services[name], st, o, now)
			sp.planServiceOffsite(d, d.Services[name], st, o, now)
			p.Services = append(p.Services, sp)
		}
	}
	if o.Files != nil {
		files, err := GeneratedFiles(d, o, now)
		if err != nil {
			p.FilesError = err.Error()
		} else {
			planFiles(p, files, o.Files)
		}
	}
	return p
}

func planSubvolume(d *schema.Desired, s *schema.Subvolume, st *SubvolumeState, o *Observed, now time.Time) SubvolumePlan {
	sp := SubvolumePlan{Name: s.Name, Tier: s.Tier, Foreign: st.Foreign}
	localLoc := s.Snapshots.Location
	localDir := d.SnapshotDir(localLoc, s.Name)

	// Snapshot when the schedule has a slot the newest snapshot predates.
	local := append([]Snapshot(nil), st.Local...)
	sp.Warnings = append(sp.Warnings, futureWarnings(local, now, "snapshot")...)
	var planned *Snapshot
	if st.SourceError != "" {
		sp.Warnings = append(sp.Warnings, "no snapshot: "+st.SourceError)
	} else if due, why := s.Snapshots.Schedule.Due(newestTime(current(local, now)), now); due {
		snap := newSnapshot(s.Name, append(local, foreignNames(st.Foreign)...), now)
		planned = &snap
		local = append(local, snap)
		sortSnapshots(local)
		sp.Actions = append(sp.Actions, Action{
			Kind: KindSnapshot, Subvolume: s.Name, Location: localLoc, Snapshot: snap.Name,
			Path: filepath.Join(localDir, snap.Name), Take: &TakeSnapshot{Source: s.Source},
			Reason: fmt.Sprintf("tier %s: %s", s.Tier, localWhy(why)),
		})
	}

	// keepLocal protects the parent of the next incremental send.
	var keepLocal string
	if s.External != nil {
		extLoc := s.External.Location
		drive := o.Drives[extLoc]
		if !drive.Present {
			keepLocal = o.LastSent[s.Name]
			sp.Warnings = append(sp.Warnings, fmt.Sprintf("send and external prune deferred: drive %s is absent", extLoc))
		} else {
			var ext []Snapshot
			repaired := false
			extDir := d.SnapshotDir(extLoc, s.Name)
			for _, r := range st.External {
				if r.ReceivedUUID == "" || !r.ReadOnly {
					repaired = true
					sp.Actions = append(sp.Actions, Action{
						Kind: KindRepair, Subvolume: s.Name, Location: extLoc, Snapshot: r.Name,
						Path: filepath.Join(extDir, r.Name), Remove: &RemoveCopy{},
						Reason: "half-received (" + halfReason(r) + "): an interrupted send; removed and sent again",
					})
					continue
				}
				ext = append(ext, r)
			}
			parent := commonParent(local, ext)
			keepLocal = parent
			sp.Warnings = append(sp.Warnings, futureWarnings(ext, now, "replica")...)
			if cur, curExt := current(local, now), current(ext, now); len(cur) > 0 {
				cand := cur[len(cur)-1]
				due, why := sendDue(s.External.Schedule, s.Snapshots.Schedule, cur, curExt, now)
				fresher := len(curExt) == 0 || cand.Time.After(curExt[len(curExt)-1].Time)
				if fresher && !HasName(ext, cand.Name) && (due || repaired) {
					reason := fmt.Sprintf("tier %s: %s", s.Tier, externalWhy(why, due))
					parentPath := ""
					if parent != "" {
						parentPath = filepath.Join(localDir, parent)
						reason += "; incremental from " + parent
					} else {
						reason += "; full send (no common parent on the drive)"
					}
					sp.Actions = append(sp.Actions, Action{
						Kind: KindSend, Subvolume: s.Name, Location: extLoc, Snapshot: cand.Name,
						Path: filepath.Join(extDir, cand.Name), Send: &SendCopy{From: filepath.Join(localDir, cand.Name), Parent: parentPath},
						Reason: reason,
					})
					ext = append(ext, Snapshot{Name: cand.Name, Time: cand.Time, HasTime: cand.HasTime, Seq: cand.Seq,
						ReceivedUUID: cand.UUID, ReadOnly: true})
					keepLocal = cand.Name
				}
			}
			extProtect := map[string]string{}
			if len(ext) > 0 {
				extProtect[ext[len(ext)-1].Name] = "newest replica"
			}
			if keepLocal != "" && keepLocal != lastName(ext) {
				extProtect[keepLocal] = "parent of the next incremental send"
			}
			if v := lastVerified(o.History[s.Name]); v != "" {
				extProtect[v] = verifiedWhy
			}
			if st.SourceError == "" {
				sp.prune(d, extLoc, extDir, ext, nil, s.External.Retention, extProtect, now)
			}
		}
	}
	sp.planProofs(d, s, st, o, local, now)

	// With the source gone the snapshots may be the only copies left:
	// prunes wait until the source is back.
	if st.SourceError != "" {
		sp.Warnings = append(sp.Warnings, "prunes held back while the source is unavailable")
		sortActions(sp.Actions)
		return sp
	}

	protect := map[string]string{}
	if len(local) > 0 {
		protect[local[len(local)-1].Name] = "newest snapshot"
	}
	if keepLocal != "" && keepLocal != lastName(local) {
		protect[keepLocal] = "parent of the next incremental send"
	}
	if v := lastVerified(o.History[s.Name]); v != "" {
		protect[v] = verifiedWhy
	}
	sp.prune(d, localLoc, localDir, local, planned, s.Snapshots.Retention, protect, now)
	sortActions(sp.Actions)
	return sp
}

const verifiedWhy = "newest verified-restorable snapshot, since the last restore test of a newer one failed"

// lastVerified names the snapshot to keep while restore tests fail: the
// newest one a test proved, until a newer one passes.
func lastVerified(h *History) string {
	if h == nil || h.Verified == nil || h.LastTest.Passed() {
		return ""
	}
	return h.Verified.Snapshot
}

// planService keeps a service's archives like a subvolume's snapshots: a
// backup when the schedule has a slot the newest archive predates, the
// tier's restore test of the newest archive, and retention's prunes (never
// the newest archive, nor one that cannot be verified).
func planService(d *schema.Desired, svc *schema.Service, st *ServiceState, o *Observed, now time.Time) SubvolumePlan {
	sp := SubvolumePlan{Name: svc.Name, Tier: svc.Tier, Kind: "service: " + svc.Kind, Foreign: st.Foreign}
	dir := d.ArchiveDir(svc)
	archives := append([]Snapshot(nil), st.Archives...)
	for _, u := range st.Unchecked {
		sp.Warnings = append(sp.Warnings, "left alone: "+u+" has no checksum, so it cannot be verified")
	}
	sp.Warnings = append(sp.Warnings, futureWarnings(archives, now, "archive")...)
	var planned *Snapshot
	if due, why := svc.Schedule.Due(newestTime(current(archives, now)), now); due {
		// Names are compared without the archive suffix, unverifiable
		// archives included: a backup never takes an existing archive's name.
		taken := foreignNames(append(append([]string(nil), st.Foreign...), st.Unchecked...))
		for _, x := range archives {
			taken = append(taken, Snapshot{Name: x.Name})
		}
		for i := range taken {
			taken[i].Name = strings.TrimSuffix(taken[i].Name, ArchiveSuffix)
		}
		a := newSnapshot(svc.Name, taken, now)
		a.Name += ArchiveSuffix
		planned = &a
		archives = append(archives, a)
		sortSnapshots(archives)
		sp.Actions = append(sp.Actions, Action{Kind: KindBackup, Subvolume: svc.Name, Location: svc.Location, Snapshot: a.Name,
			Path: filepath.Join(dir, a.Name), Backup: &BackupService{Service: svc}, Reason: fmt.Sprintf("tier %s: %s", svc.Tier, archiveWhy(why))})
	}
	h := o.History[svc.Name]
	if h == nil {
		h = &History{}
	}
	tier := d.Tiers[svc.Tier]
	if due, why := proofDue("restore test", h.LastPassed, h.LastTest, h.LastSkipped, tier.RestoreTest.Every.Duration, svc.Tier, now); due && len(archives) > 0 {
		newest := archives[len(archives)-1]
		sp.Actions = append(sp.Actions, Action{Kind: KindTest, Subvolume: svc.Name, Location: svc.Location, Snapshot: newest.Name,
			Path: filepath.Join(dir, newest.Name), Proof: archiveProof(d, svc, newest), Reason: why})
	}
	protect := map[string]string{}
	if len(archives) > 0 {
		protect[archives[len(archives)-1].Name] = "newest archive"
	}
	if v := lastVerified(h); v != "" {
		protect[v] = verifiedWhy
	}
	sp.prune(d, svc.Location, dir, archives, planned, svc.Retention, protect, now)
	if svc.External != nil {
		sp.planArchiveCopies(d, svc, st, o, archives, dir, now)
	}
	for i := range sp.Actions {
		if r := sp.Actions[i].Remove; r != nil {
			r.Archive = true
		}
	}
	sp.markExternal(d, o)
	sortActions(sp.Actions)
	return sp
}

// archiveProof is the payload of a restore test of a service's archive.
func archiveProof(d *schema.Desired, svc *schema.Service, archive Snapshot) *ProofSpec {
	return &ProofSpec{SnapshotTime: archive.Time, Scratch: d.Restore.Scratch, Service: svc}
}

// planArchiveCopies copies the newest archive to the drive when it lacks it,
// and prunes the copies there by their own retention.
func (sp *SubvolumePlan) planArchiveCopies(d *schema.Desired, svc *schema.Service, st *ServiceState, o *Observed,
	archives []Snapshot, dir string, now time.Time) {
	ext := svc.External.Location
	if !o.Drives[ext].Present {
		sp.Warnings = append(sp.Warnings, fmt.Sprintf("archive copy and external prune deferred: drive %s is absent", ext))
		return
	}
	extDir := d.ArchiveCopyDir(svc)
	copies := append([]Snapshot(nil), st.External...)
	if n := len(archives); n > 0 {
		newest := archives[n-1]
		fresher := len(copies) == 0 || newest.Time.After(copies[len(copies)-1].Time)
		if fresher && !HasName(copies, newest.Name) {
			sp.Actions = append(sp.Actions, Action{Kind: KindSend, Subvolume: svc.Name, Location: ext, Snapshot: newest.Name,
				Path: filepath.Join(extDir, newest.Name), Send: &SendCopy{From: filepath.Join(dir, newest.Name), Archive: true},
				Reason: fmt.Sprintf("tier %s: the drive lacks the newest archive", svc.Tier)})
			copies = append(copies, newest)
		}
	}
	protect := map[string]string{}
	if n := len(copies); n > 0 {
		protect[copies[n-1].Name] = "newest copy"
	}
	sp.prune(d, ext, extDir, copies, nil, svc.External.Retention, protect, now)
}

func archiveWhy(why string) string {
	if why == "none yet" {
		return "no archive yet"
	}
	return "newest archive" + why[len("newest"):]
}

// markExternal flags the actions that touch an external drive.
func (sp *SubvolumePlan) markExternal(d *schema.Desired, o *Observed) {
	for i := range sp.Actions {
		sp.Actions[i].markExternal(d, o)
	}
}

// markExternal flags an action on an external drive and captures the
// drive's identity: the UUID the plan observed, else the declared one.
func (a *Action) markExternal(d *schema.Desired, o *Observed) {
	loc := d.Locations[a.Location]
	a.External = loc.External
	if !a.External {
		return
	}
	uuid := o.Drives[a.Location].UUID
	if uuid == "" {
		uuid = loc.UUID
	}
	a.Drive = &DriveRef{Mount: loc.Mount, UUID: uuid, LUKS: loc.LUKS}
}

// planProofs adds the restore test and the drill the tier asks for when
// they are due.
func (sp *SubvolumePlan) planProofs(d *schema.Desired, s *schema.Subvolume, st *SubvolumeState, o *Observed, local []Snapshot, now time.Time) {
	tier := d.Tiers[s.Tier]
	h := o.History[s.Name]
	if h == nil {
		h = &History{}
	}
	sent := map[string]bool{}
	for _, a := range sp.Actions {
		if a.Kind == KindSend {
			sent[a.Snapshot] = true
		}
	}
	if due, why := proofDue("restore test", h.LastPassed, h.LastTest, h.LastSkipped, tier.RestoreTest.Every.Duration, s.Tier, now); due {
		if a, ok := proofAction(d, s, st, o, local, sent, KindTest); ok {
			a.Reason = why + a.Reason
			sp.Actions = append(sp.Actions, a)
		} else {
			sp.Warnings = append(sp.Warnings, "restore test due but nothing to test yet")
		}
	}
	if tier.Drill == nil {
		return
	}
	if due, why := proofDue("drill", h.LastPassedDrill, h.LastDrill, nil, tier.Drill.Every.Duration, s.Tier, now); due {
		if a, ok := proofAction(d, s, st, o, local, sent, KindDrill); ok {
			a.Reason = why + a.Reason
			sp.Actions = append(sp.Actions, a)
		} else {
			sp.Warnings = append(sp.Warnings, "drill due but deferred: it restores the replica on the external drive, which is absent or holds none")
		}
	}
}

// ProofAction is the test or drill of a subvolume's newest copy now, for
// `drsync test` and `drsync drill` run by hand.
func ProofAction(d *schema.Desired, o *Observed, name string, kind Kind) (Action, bool) {
	if svc := d.Services[name]; svc != nil {
		st := o.Services[name]
		if kind != KindTest || st == nil || len(st.Archives) == 0 {
			return Action{}, false
		}
		newest := st.Archives[len(st.Archives)-1]
		a := Action{Kind: KindTest, Subvolume: name, Location: svc.Location, Snapshot: newest.Name,
			Path: filepath.Join(d.ArchiveDir(svc), newest.Name), Proof: archiveProof(d, svc, newest)}
		a.markExternal(d, o)
		return a, true
	}
	s, st := d.Subvolumes[name], o.Subvolumes[name]
	if s == nil || st == nil {
		return Action{}, false
	}
	a, ok := proofAction(d, s, st, o, st.Local, nil, kind)
	if ok {
		a.Reason = strings.TrimPrefix(a.Reason, "; ")
		a.markExternal(d, o)
	}
	return a, ok
}

// proofAction picks what a test or drill reads: the newest replica on the
// drive (after this plan's sends) when the drive is present, the copy a
// disaster would leave; a test falls back to the newest local snapshot,
// a drill has nothing to do without a replica.
func proofAction(d *schema.Desired, s *schema.Subvolume, st *SubvolumeState, o *Observed, local []Snapshot, sent map[string]bool, kind Kind) (Action, bool) {
	tier := d.Tiers[s.Tier]
	localDir := d.SnapshotDir(s.Snapshots.Location, s.Name)
	a := Action{Kind: kind, Subvolume: s.Name, Proof: &ProofSpec{}}
	if kind == KindDrill {
		a.Proof.Scratch, a.Proof.RTOTarget = d.DrillDir(s), d.RTO(s)
	} else {
		a.Proof.Scratch, a.Proof.SampleSize = d.Restore.Scratch, tier.RestoreTest.SampleSize
	}
	if s.External != nil && o.Drives[s.External.Location].Present {
		var replica *Snapshot
		if replicas := Replicas(st.External); len(replicas) > 0 {
			replica = &replicas[len(replicas)-1]
		}
		for i := len(local) - 1; i >= 0; i-- {
			if sent[local[i].Name] && (replica == nil || local[i].Time.After(replica.Time)) {
				replica = &local[i]
				break
			}
		}
		if replica != nil {
			a.Location, a.Snapshot, a.Proof.SnapshotTime, a.External = s.External.Location, replica.Name, replica.Time, true
			a.Path = filepath.Join(d.SnapshotDir(s.External.Location, s.Name), replica.Name)
			if HasName(local, replica.Name) {
				a.Proof.Reference = filepath.Join(localDir, replica.Name)
			}
			return a, true
		}
	}
	if kind == KindDrill || len(local) == 0 {
		return Action{}, false
	}
	newest := local[len(local)-1]
	a.Location, a.Snapshot, a.Proof.SnapshotTime = s.Snapshots.Location, newest.Name, newest.Time
	a.Path = filepath.Join(localDir, newest.Name)
	if s.External != nil {
		a.Reason = "; no replica on the drive, so the local snapshot"
	}
	return a, true
}

// proofDue says whether a test or drill is due: the last pass is older
// than the tier's cadence. A failing one is retried at most daily, so an
// unattended watch does not hammer a broken drive.
func proofDue(what string, lastPassed, last, skipped *TestReport, every time.Duration, tier string, now time.Time) (bool, string) {
	want := fmt.Sprintf("tier %s wants one every %s", tier, schema.FormatDuration(every))
	if skipped != nil && now.Sub(skipped.Started) < every && (last == nil || skipped.Started.After(last.Started)) {
		return false, "" // nothing to prove last time: wait for the next cadence
	}
	if last != nil && !last.Passed() {
		retry := min(every, 24*time.Hour)
		if now.Sub(last.Started) < retry {
			return false, ""
		}
		return true, fmt.Sprintf("last %s FAILED %s ago (%s); retrying", what, schema.Age(now.Sub(last.Started)), last.Snapshot)
	}
	if lastPassed == nil {
		if what == "drill" {
			return true, "never drilled; " + want
		}
		return true, "never tested; " + want
	}
	if age := now.Sub(lastPassed.Started); age >= every {
		return true, fmt.Sprintf("last passed %s ago; %s", schema.Age(age), want)
	}
	return false, ""
}

// prune evaluates retention over snaps and adds prunes for what no rule
// keeps, except protected snapshots and the one this plan creates.
func (sp *SubvolumePlan) prune(d *schema.Desired, loc, dir string, snaps []Snapshot, planned *Snapshot,
	r schema.Retention, protect map[string]string, now time.Time) {
	items := make([]retention.Item, len(snaps))
	for i, s := range snaps {
		items[i] = retention.Item{Name: s.Name, Time: s.Time, HasTime: s.HasTime, Seq: s.Seq}
	}
	for _, dec := range retention.Evaluate(items, Policy(d, r), now, now.Location()) {
		keep, reason := dec.Keep, dec.Reason
		if why, ok := protect[dec.Name]; ok && !keep {
			keep, reason = true, "kept as the "+why+" (retention alone would prune it: "+reason+")"
		}
		sp.Retention = append(sp.Retention, RetentionNote{Location: loc, Snapshot: dec.Name, Keep: keep, Reason: reason})
		if keep || (planned != nil && dec.Name == planned.Name) {
			continue
		}
		sp.Actions = append(sp.Actions, Action{
			Kind: KindPrune, Subvolume: sp.Name, Location: loc, Snapshot: dec.Name,
			Path: filepath.Join(dir, dec.Name), Remove: &RemoveCopy{}, Reason: reason,
		})
	}
}

// Policy translates a declared retention into the retention package's terms.
func Policy(d *schema.Desired, r schema.Retention) retention.Policy {
	p := retention.Policy{
		Hourly: count(r.Hourly), Daily: count(r.Daily), Weekly: count(r.Weekly),
		Monthly: count(r.Monthly), Yearly: count(r.Yearly),
		WeekStart: weekday(d.Calendar.WeekStart), DayStartHour: d.Calendar.DayStartHour,
	}
	switch r.Min {
	case "all":
		p.MinAll = true
	case "latest", "":
		p.MinLatest = true
	default:
		fmt.Sscanf(r.Min, "%d%c", &p.MinN, &p.MinUnit)
	}
	return p
}

func count(c *schema.Count) int {
	switch {
	case c == nil:
		return retention.Unset
	case c.All:
		return retention.All
	default:
		return c.N
	}
}

func weekday(name string) time.Weekday {
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		if len(name) >= 3 && wd.String()[:3] == capitalize(name[:3]) {
			return wd
		}
	}
	return time.Sunday
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// newSnapshot names the snapshot taken now, with btrbk's _N suffix when a
// snapshot of the same minute exists.
func newSnapshot(subvol string, existing []Snapshot, now time.Time) Snapshot {
	t := now.Truncate(time.Minute)
	seq := 0
	for HasName(existing, snapname.FormatSeq(subvol, t, seq)) {
		seq++
	}
	return Snapshot{Name: snapname.FormatSeq(subvol, t, seq), Time: t, HasTime: true, Seq: seq, ReadOnly: true}
}

// commonParent is the newest local snapshot that has a replica on the
// drive: the replica's received UUID is the local snapshot's UUID.
func commonParent(local, ext []Snapshot) string {
	received := map[string]bool{}
	for _, r := range ext {
		received[r.ReceivedUUID] = true
	}
	for i := len(local) - 1; i >= 0; i-- {
		if local[i].UUID != "" && received[local[i].UUID] {
			return local[i].Name
		}
	}
	return ""
}

func halfReason(r Snapshot) string {
	if r.ReceivedUUID == "" {
		return "no received UUID"
	}
	return "not read-only"
}

func localWhy(why string) string {
	if why == "none yet" {
		return "no local snapshot yet"
	}
	return "newest local snapshot" + why[len("newest"):]
}

func externalWhy(why string, due bool) string {
	if !due {
		return "re-sending after removing a half-received copy"
	}
	return why
}

// sendDue decides whether the drive lacks what the external schedule asks
// for: the newest local snapshot that belongs to a snapshot slot at or
// before the latest send slot. A snapshot belongs to the snapshot slot it
// was taken for, so one taken at 03:30 for the 02:00 slot is sent by a 03:00
// send slot that same run, and a 02:00 snapshot sent at 03:00 satisfies the
// send slot until the next one.
func sendDue(send, snap schema.Schedule, local, ext []Snapshot, now time.Time) (bool, string) {
	if len(ext) == 0 {
		return true, "no replica on the drive yet"
	}
	newest := ext[len(ext)-1].Time
	age := schema.Age(now.Sub(newest))
	if send.Kind == "every" {
		due, _ := send.Due(newest, now)
		return due, fmt.Sprintf("newest replica is %s old; wants one every %s", age, schema.FormatDuration(send.Every))
	}
	slot := send.Slot(now)
	for i := len(local) - 1; i >= 0; i-- {
		taken := local[i].Time
		if snap.Kind != "every" {
			taken = snap.Slot(taken)
		}
		if !taken.After(slot) {
			if local[i].Time.After(newest) {
				return true, fmt.Sprintf("newest replica is %s old; %q wants %s or newer on the drive since %s",
					age, send.Text, local[i].Name, slot.Format("2006-01-02 15:04"))
			}
			break
		}
	}
	return false, ""
}

// foreignNames turns foreign entries into names a new snapshot must avoid.
func foreignNames(paths []string) []Snapshot {
	out := make([]Snapshot, len(paths))
	for i, p := range paths {
		out[i] = Snapshot{Name: filepath.Base(p)}
	}
	return out
}

// Replicas keeps the complete replicas: received and read-only.
func Replicas(s []Snapshot) []Snapshot {
	var out []Snapshot
	for _, r := range s {
		if r.ReceivedUUID != "" && r.ReadOnly {
			out = append(out, r)
		}
	}
	return out
}

func sortSnapshots(s []Snapshot) {
	sort.SliceStable(s, func(i, j int) bool {
		return snapname.Less(snapname.Stamp{Time: s[i].Time, Seq: s[i].Seq}, snapname.Stamp{Time: s[j].Time, Seq: s[j].Seq})
	})
}

func newestTime(s []Snapshot) time.Time {
	if len(s) == 0 {
		return time.Time{}
	}
	return s[len(s)-1].Time
}

func lastName(s []Snapshot) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1].Name
}

// HasName reports whether s holds a snapshot of that name.
func HasName(s []Snapshot, name string) bool {
	for _, x := range s {
		if x.Name == name {
			return true
		}
	}
	return false
}
