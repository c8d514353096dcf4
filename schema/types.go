package schema

// Desired is the decoded, validated desired state. Paths are cleaned.
type Desired struct {
	Root       string                `json:"root"`
	Host       string                `json:"host,omitempty"`
	StateDir   string                `json:"stateDir"`
	Calendar   Calendar              `json:"calendar"`
	Generate   Generate              `json:"generate"`
	Restore    Restore               `json:"restore"`
	Watch      Watch                 `json:"watch"`
	History    History               `json:"history"`
	Reports    Reports               `json:"reports"`
	Locations  map[string]Location   `json:"locations"`
	Tiers      map[string]Tier       `json:"tiers"`
	Subvolumes map[string]*Subvolume `json:"subvolumes"`
	Services   map[string]*Service   `json:"services,omitempty"`
	Alerting   *Alerting             `json:"alerting,omitempty"`
	Pings      map[string]Ping       `json:"pings,omitempty"`
	Targets    map[string]Target     `json:"targets,omitempty"`
	// Rehearsals are the runbooks' rehearsal cadences, by runbook (DR-001…).
	Rehearsals map[string]Rehearsal `json:"rehearsals,omitempty"`

	// Source names the files the state was loaded from, for messages.
	Source string `json:"-"`
}

type Calendar struct {
	WeekStart    string `json:"weekStart"`
	DayStartHour int    `json:"dayStartHour"`
}

type Location struct {
	Path      string `json:"path"`
	Layout    string `json:"layout"`
	External  bool   `json:"external"`
	Mount     string `json:"mount,omitempty"`
	UUID      string `json:"uuid,omitempty"`
	Removable bool   `json:"removable,omitempty"`
	Label     string `json:"label,omitempty"`
	LUKS      *LUKS  `json:"luks,omitempty"`
}

type LUKS struct {
	Device  string `json:"device"`
	Mapping string `json:"mapping"`
	Verify  bool   `json:"verify"`
}

type Tier struct {
	Description string      `json:"description,omitempty"`
	RPO         Duration    `json:"rpo"`
	RTO         Duration    `json:"rto"`
	RestoreTest RestoreTest `json:"restoreTest"`
	Drill       *Drill      `json:"drill,omitempty"`
	Shrink      Shrink      `json:"shrink"`
}

type RestoreTest struct {
	Every      Duration `json:"every"`
	SampleSize int      `json:"sampleSize"`
	// Coverage is the window in which the tests' slices verify every
	// file (nil: sampled tests only); CoverageAlertBelow the share of
	// files and bytes under which the alert fires.
	Coverage           *Duration `json:"coverage,omitempty"`
	CoverageAlertBelow float64   `json:"coverageAlertBelow"`
	// SliceBudget is the time a test's slice may take to verify (0: no
	// limit); the plan proposes a cadence whose slices fit when the
	// rate past slices were verified at says the slice due does not.
	SliceBudget Duration `json:"sliceBudget"`
}

// Slices is how many slices a copy is cut into so that one restore test
// per cadence verifies every file within the coverage window (0: no
// coverage declared).
func (r RestoreTest) Slices() int {
	if r.Coverage == nil || r.Every.Duration <= 0 {
		return 0
	}
	return int((r.Coverage.Duration + r.Every.Duration - 1) / r.Every.Duration)
}

// Shrink says when a new snapshot holding much less than the previous one
// is a warning, and when it holds prunes.
type Shrink struct {
	WarnBelow float64  `json:"warnBelow"`
	HoldBelow *float64 `json:"holdBelow,omitempty"`
}

type Drill struct {
	Every Duration `json:"every"`
}

// Rehearsal is how often a runbook is rehearsed on a sandbox.
type Rehearsal struct {
	Every Duration `json:"every"`
}

type Subvolume struct {
	Name   string    `json:"name"`
	Tier   string    `json:"tier"`
	Source string    `json:"source"`
	RTO    *Duration `json:"rto,omitempty"`
	// DrillTarget is where drills receive into (see DrillDir).
	DrillTarget string       `json:"drillTarget,omitempty"`
	Snapshots   Replication  `json:"snapshots"`
	External    *Replication `json:"external,omitempty"`
	// Offsite sends snapshots to targets, by target name.
	Offsite map[string]OffsiteSends `json:"offsite,omitempty"`
}

// Replication is where a subvolume's copies live, when a new one is due and
// how long old ones are kept.
type Replication struct {
	Location  string    `json:"location"`
	Schedule  Schedule  `json:"schedule"`
	Retention Retention `json:"retention"`
}

// Retention mirrors #Retention; counts are nil when unset, "all" decodes
// as Count{All: true}.
type Retention struct {
	Min     string `json:"min"`
	Hourly  *Count `json:"hourly,omitempty"`
	Daily   *Count `json:"daily,omitempty"`
	Weekly  *Count `json:"weekly,omitempty"`
	Monthly *Count `json:"monthly,omitempty"`
	Yearly  *Count `json:"yearly,omitempty"`
}

// Generate is where generated files go (see #Generate).
type Generate struct {
	Binary       string          `json:"binary"`
	DesiredFile  string          `json:"desiredFile"`
	Metrics      string          `json:"metrics"`
	AlertRules   string          `json:"alertRules"`
	AlertTests   string          `json:"alertTests"`
	ScrapeConfig string          `json:"scrapeConfig"`
	Dashboard    string          `json:"dashboard"`
	Systemd      string          `json:"systemd"`
	Runbooks     string          `json:"runbooks"`
	Alertmanager string          `json:"alertmanager"`
	NodeExporter string          `json:"nodeExporter"`
	Enabled      GenerateEnabled `json:"enabled"`
}

type GenerateEnabled struct {
	Metrics      bool `json:"metrics"`
	AlertRules   bool `json:"alertRules"`
	Dashboard    bool `json:"dashboard"`
	Systemd      bool `json:"systemd"`
	Runbooks     bool `json:"runbooks"`
	ScrapeConfig bool `json:"scrapeConfig"`
	Alertmanager bool `json:"alertmanager"`
}

// Restore says where restore tests and drills may write.
type Restore struct {
	Scratch    string   `json:"scratch"`
	KeepFailed Duration `json:"keepFailed"`
}

// Watch tunes the unattended reconciler.
type Watch struct {
	MaxPruneShare float64 `json:"maxPruneShare"`
}

// Reports says how long the reports in <stateDir>/reports are kept.
type Reports struct {
	Keep Duration `json:"keep"`
}

// History says how long rotated journal segments are kept.
type History struct {
	Keep Duration `json:"keep"`
}

// Service is a monitored service whose data is kept as archives.
type Service struct {
	Name      string    `json:"name"`
	Tier      string    `json:"tier"`
	Location  string    `json:"location"`
	Schedule  Schedule  `json:"schedule"`
	Retention Retention `json:"retention"`
	Kind      string    `json:"kind"`
	// External copies archives to a drive (Schedule is the service's own).
	External *ArchiveCopies `json:"external,omitempty"`
	// Offsite uploads archives to targets, by target name.
	Offsite  map[string]OffsiteCopies `json:"offsite,omitempty"`
	URL      string                   `json:"url,omitempty"`
	DataDir  string                   `json:"dataDir,omitempty"`
	Database string                   `json:"database,omitempty"`
	Paths    []string                 `json:"paths,omitempty"`
	// Unit, or Stop and Start, say how a recovery stops and starts the
	// service; Owner (uid:gid) is given to a restored TSDB; After names
	// the components a point-in-time recovery restores first.
	Unit  string   `json:"unit,omitempty"`
	Stop  []string `json:"stop,omitempty"`
	Start []string `json:"start,omitempty"`
	Owner string   `json:"owner,omitempty"`
	After []string `json:"after,omitempty"`
}

// Service kinds.
const (
	ServicePrometheus = "prometheus"
	ServiceSQLite     = "sqlite"
	ServiceFiles      = "files"
)

// ArchiveCopies says where a service's archives are copied and how long
// the copies are kept.
type ArchiveCopies struct {
	Location  string    `json:"location"`
	Retention Retention `json:"retention"`
}
