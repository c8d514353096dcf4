// Package dashboard renders the Grafana backup-health dashboard.
package dashboard

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"

	"github.com/drsync/drsync/render/alerts"
	"github.com/drsync/drsync/render/view"
)

// The dashboard is built from typed structs mirroring @grafana/schema's
// Dashboard (tools/grafana-schema checks the output against it), so a
// misspelt field is a compile error rather than a panel Grafana ignores.
type dashboardJSON struct {
	UID           string     `json:"uid"`
	Title         string     `json:"title"`
	Description   string     `json:"description"`
	Tags          []string   `json:"tags"`
	Timezone      string     `json:"timezone"`
	Editable      bool       `json:"editable"`
	GraphTooltip  int        `json:"graphTooltip"`
	Refresh       string     `json:"refresh"`
	SchemaVersion int        `json:"schemaVersion"`
	Time          timeRange  `json:"time"`
	Templating    templating `json:"templating"`
	Panels        []panel    `json:"panels"`
}

type timeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type templating struct {
	List []variable `json:"list"`
}

type variable struct {
	Name       string         `json:"name"`
	Label      string         `json:"label"`
	Type       string         `json:"type"`
	Query      string         `json:"query"`
	Datasource *dataSourceRef `json:"datasource,omitempty"`
	Refresh    int            `json:"refresh,omitempty"` // 1: on dashboard load
	Sort       int            `json:"sort,omitempty"`    // 1: alphabetical
}

type dataSourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type gridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

type panel struct {
	ID              int              `json:"id"`
	Type            string           `json:"type"`
	Title           string           `json:"title"`
	Description     string           `json:"description,omitempty"`
	GridPos         gridPos          `json:"gridPos"`
	Datasource      dataSourceRef    `json:"datasource"`
	Targets         []target         `json:"targets"`
	FieldConfig     fieldConfigSrc   `json:"fieldConfig"`
	Options         panelOptions     `json:"options"`
	Transformations []transformation `json:"transformations,omitempty"`
}

type target struct {
	RefID        string        `json:"refId"`
	Datasource   dataSourceRef `json:"datasource"`
	Expr         string        `json:"expr"`
	LegendFormat string        `json:"legendFormat,omitempty"`
	Instant      bool          `json:"instant"`
	Range        bool          `json:"range"`
	Format       string        `json:"format"`
}

type fieldConfigSrc struct {
	Defaults  fieldConfig `json:"defaults"`
	Overrides []override  `json:"overrides"`
}

type fieldConfig struct {
	Unit       string         `json:"unit,omitempty"`
	Decimals   *int           `json:"decimals,omitempty"`
	NoValue    string         `json:"noValue,omitempty"`
	Color      *fieldColor    `json:"color,omitempty"`
	Thresholds *thresholds    `json:"thresholds,omitempty"`
	Mappings   []valueMapping `json:"mappings,omitempty"`
}

type fieldColor struct {
	Mode string `json:"mode"`
}

type thresholds struct {
	Mode  string          `json:"mode"`
	Steps []thresholdStep `json:"steps"`
}

type thresholdStep struct {
	Color string   `json:"color"`
	Value *float64 `json:"value"` // null: the base step
}

type valueMapping struct {
	Type    string                   `json:"type"`
	Options map[string]mappingResult `json:"options"`
}

type mappingResult struct {
	Text  string `json:"text"`
	Color string `json:"color"`
	Index int    `json:"index"`
}

type override struct {
	Matcher    matcher    `json:"matcher"`
	Properties []property `json:"properties"`
}

type matcher struct {
	ID      string `json:"id"`
	Options string `json:"options"`
}

type property struct {
	ID    string        `json:"id"`
	Value propertyValue `json:"value"`
}

// propertyValue is what an override may set: thresholds, a unit, value
// mappings or table cell options.
type propertyValue interface{ isPropertyValue() }

type unit string

type cellOptions struct {
	Type string `json:"type"`
}

func (thresholds) isPropertyValue()  {}
func (unit) isPropertyValue()        {}
func (cellOptions) isPropertyValue() {}

// valueMappings maps a field's values to text and colour.
type valueMappings []valueMapping

func (valueMappings) isPropertyValue() {}

type transformation struct {
	ID      string           `json:"id"`
	Options transformOptions `json:"options"`
}

// transformOptions holds the options of "merge" (none) and "organize".
type transformOptions struct {
	ExcludeByName map[string]bool   `json:"excludeByName,omitempty"`
	RenameByName  map[string]string `json:"renameByName,omitempty"`
}

// panelOptions is the options object of one panel plugin.
type panelOptions interface{ panelType() string }

type statOptions struct {
	ReduceOptions          reduceOptions `json:"reduceOptions"`
	Orientation            string        `json:"orientation"`
	TextMode               string        `json:"textMode"`
	ColorMode              string        `json:"colorMode"`
	GraphMode              string        `json:"graphMode"`
	JustifyMode            string        `json:"justifyMode"`
	PercentChangeColorMode string        `json:"percentChangeColorMode"`
	ShowPercentChange      bool          `json:"showPercentChange"`
	WideLayout             bool          `json:"wideLayout"`
}

type reduceOptions struct {
	Calcs  []string `json:"calcs"`
	Fields string   `json:"fields"`
	Values bool     `json:"values"`
}

type tableOptions struct {
	ShowHeader bool `json:"showHeader"`
	FrameIndex int  `json:"frameIndex"`
}

type timeSeriesOptions struct {
	Legend  legendOptions  `json:"legend"`
	Tooltip tooltipOptions `json:"tooltip"`
}

type legendOptions struct {
	ShowLegend  bool     `json:"showLegend"`
	DisplayMode string   `json:"displayMode"`
	Placement   string   `json:"placement"`
	Calcs       []string `json:"calcs"`
}

type tooltipOptions struct {
	Mode string `json:"mode"`
	Sort string `json:"sort"`
}

func (statOptions) panelType() string       { return "stat" }
func (tableOptions) panelType() string      { return "table" }
func (timeSeriesOptions) panelType() string { return "timeseries" }

// gridWidth is Grafana's dashboard width in grid columns.
const gridWidth = 24

var datasource = dataSourceRef{Type: "prometheus", UID: "${datasource}"}

// Render renders the backup-health dashboard of the design documents:
// status per subvolume coloured by thresholds derived from its tier,
// restore-test results, size and snapshot trends, durations, RTO/RPO and
// the active alerts.
func Render(in view.Input) ([]byte, error) {
	if err := view.Check(in); err != nil {
		return nil, err
	}
	subs := view.Tracked(in)
	perSub := func(f func(view.Subvolume) (warn, crit float64)) []override {
		var out []override
		for _, s := range subs {
			w, c := f(s)
			out = append(out, thresholdOverride(s.Name, w, c))
		}
		return out
	}
	names, by := view.ExternalLocations(in)
	var driveOverrides []override
	for _, n := range names {
		iv := view.DriveInterval(by[n])
		driveOverrides = append(driveOverrides, thresholdOverride(n, iv.Seconds(), (iv+alerts.DriveSlack).Seconds()))
	}

	// The last apply's result is shown by name, coloured by which it is.
	lastApply := stat("Last drsync apply", 8, 6, "Result of the last apply run.", "", []override{
		thresholdOverrideColors("applied", "green"), thresholdOverrideColors("stopped", "yellow"), thresholdOverrideColors("failed", "red"),
	}, query(`drsync_reconcile_last_result == 1`, "{{result}}"))
	lastApply.Options = statDefaults("name")

	panels := []panel{
		stat("Newest backup age vs RPO", 16, 6,
			"Age of each subvolume's newest external replica (local snapshot where none is declared): yellow at 75% of the tier RPO, red past it.",
			"s", perSub(func(s view.Subvolume) (float64, float64) { return 0.75 * s.RPO.Seconds(), s.RPO.Seconds() }),
			query(`(time() - max by (subvolume) (backup_newest_snapshot_timestamp{location="external"})) or (time() - max by (subvolume) (backup_newest_snapshot_timestamp{location="local"}))`, "{{subvolume}}")),
		withMappings(stat("Never restore-tested", 8, 6,
			"Subvolumes without a single restore test: their backups are unproven.",
			"", nil,
			query(`0 * (backup_restore_test_interval_seconds unless on (subvolume) backup_restore_test_last_run_timestamp)`, "{{subvolume}}")),
			"every subvolume has been tested", map[string]mappingResult{"0": {Text: "NEVER TESTED", Color: "red"}}),
		table("Last backup per subvolume", 12, 8,
			map[string]string{"Value #A": "Last success", "Value #B": "Duration", "Value #C": "Size"},
			map[string]propertyValue{"Last success": unit("dateTimeFromNow"), "Duration": unit("s"), "Size": unit("bytes")},
			query(`max by (subvolume, tier) (backup_last_success_timestamp) * 1000`, ""),
			query(`max by (subvolume, tier) (backup_duration_seconds)`, ""),
			query(`max by (subvolume, tier) (backup_size_bytes)`, "")),
		withResultMapping(table("Last restore test per subvolume", 12, 8,
			map[string]string{"Value #A": "Result", "Value #B": "Tested", "Value #C": "Files validated", "Value #D": "Success rate"},
			map[string]propertyValue{"Tested": unit("dateTimeFromNow"), "Success rate": unit("percentunit")},
			query(`max by (subvolume, tier) (backup_restore_test_success)`, ""),
			query(`max by (subvolume, tier) (backup_restore_test_last_run_timestamp) * 1000`, ""),
			query(`max by (subvolume, tier) (backup_restore_test_files_validated)`, ""),
			query(`max by (subvolume, tier) (backup_restore_tests_passed_total / backup_restore_tests_total)`, ""))),
		stat("Time since last restore test", 12, 6,
			fmt.Sprintf("Yellow once the tier's restore-test interval has passed, red at %g times it (RestoreTestOverdue).", alerts.CadenceSlack),
			"s", perSub(func(s view.Subvolume) (float64, float64) {
				return s.RestoreEvery.Seconds(), alerts.CadenceSlack * s.RestoreEvery.Seconds()
			}),
			query(`time() - max by (subvolume) (backup_restore_test_last_run_timestamp)`, "{{subvolume}}")),
		stat("Real RPO: age of newest verified snapshot", 12, 6,
			"Age of the newest snapshot a passing restore test verified, the data a proven recovery would lose: yellow at 75% of the tier RPO, red past it.",
			"s", perSub(func(s view.Subvolume) (float64, float64) { return 0.75 * s.RPO.Seconds(), s.RPO.Seconds() }),
			query(`time() - max by (subvolume) (backup_verified_snapshot_timestamp)`, "{{subvolume}}")),
		stat("Time since last backup", 12, 6,
			"Since the last apply that snapshotted or sent the subvolume without error: yellow past its schedule interval, red past twice it (BackupFailed).",
			"s", perSub(func(s view.Subvolume) (float64, float64) {
				iv := s.Snapshots.Schedule.Period()
				if s.External != nil {
					iv = min(iv, s.External.Schedule.Period())
				}
				return iv.Seconds(), 2 * iv.Seconds()
			}),
			query(`time() - max by (subvolume) (backup_last_success_timestamp)`, "{{subvolume}}")),
		table("RTO: measured by drills vs target", 12, 6,
			map[string]string{"Value #A": "Measured RTO", "Value #B": "RTO target", "Value #C": "Drilled", "Value #D": "Drill verification"},
			map[string]propertyValue{"Measured RTO": unit("s"), "RTO target": unit("s"), "Drilled": unit("dateTimeFromNow"), "Drill verification": unit("s")},
			query(`max by (subvolume, tier) (backup_rto_measured_seconds)`, ""),
			query(`max by (subvolume, tier) (backup_rto_target_seconds)`, ""),
			query(`max by (subvolume, tier) (backup_drill_last_run_timestamp) * 1000`, ""),
			query(`max by (subvolume, tier) (backup_drill_verify_seconds)`, "")),
		timeSeries("Backup size (last send)", 12, 8, "bytes",
			query(`backup_size_bytes`, "{{subvolume}}")),
		timeSeries("Snapshot count: local vs external", 12, 8, "short",
			query(`backup_snapshots`, "{{subvolume}} {{location}}")),
		timeSeries("Backup duration", 12, 8, "s",
			query(`backup_duration_seconds`, "{{subvolume}}")),
		timeSeries("Restore test success rate", 12, 8, "percentunit",
			query(`backup_restore_tests_passed_total / backup_restore_tests_total`, "{{subvolume}}")),
		stat("External drive last seen", 8, 6,
			"Yellow past the drive's most frequent replica schedule, red a day later (ExternalDriveNotSeen).",
			"s", driveOverrides,
			query(`time() - backup_external_drive_last_seen_timestamp`, "{{location_name}}")),
		lastApply,
		timeSeries("drsync apply duration", 8, 6, "s",
			query(`drsync_reconcile_last_duration_seconds`, "duration")),
		recentAlerts(),
	}
	panels = append(panels, offsitePanels(in)...)
	if view.AnyCoverage(in) {
		panels = append(panels, coveragePanel(in))
	}
	y, x, rowH := 0, 0, 0
	for i := range panels {
		p := &panels[i]
		p.ID = i + 1
		if x+p.GridPos.W > gridWidth {
			x, y, rowH = 0, y+rowH, 0
		}
		p.GridPos.X, p.GridPos.Y = x, y
		x += p.GridPos.W
		rowH = max(rowH, p.GridPos.H)
	}
	d := dashboardJSON{
		UID:           "backup-health",
		Title:         "Backup health",
		Description:   fmt.Sprintf("Generated by drsync from %s: backups, restore tests, drills and recovery objectives per subvolume.", in.Desired.Generate.DesiredFile),
		Tags:          []string{"backup", "disaster-recovery", "drsync"},
		Timezone:      "browser",
		Editable:      false,
		Refresh:       "5m",
		SchemaVersion: 39,
		Time:          timeRange{From: "now-30d", To: "now"},
		Templating: templating{List: []variable{
			{Name: "datasource", Label: "Prometheus", Type: "datasource", Query: "prometheus"},
			// One machine at a time: a fleet's machines share subvolume
			// names. A machine without a host label leaves it empty, and
			// host=~"" selects its series.
			{Name: "host", Label: "Host", Type: "query", Query: "label_values(backup_rpo_target_seconds, host)",
				Datasource: &datasource, Refresh: 1, Sort: 1},
		}},
		Panels: panels,
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding dashboard: %w", err)
	}
	return append(b, '\n'), nil
}

func query(expr, legend string) target {
	return target{Expr: onHost(expr), LegendFormat: legend}
}

// drsyncSelector is a selector of one of drsync's series (or of the alerts
// raised on them), with its matchers if any.
var drsyncSelector = regexp.MustCompile(`\b(backup_[a-z_]+|drsync_[a-z_]+|ALERTS(?:_FOR_STATE)?)\b(\{[^}]*\})?`)

// onHost restricts every selector of expr to the dashboard's $host.
func onHost(expr string) string {
	return drsyncSelector.ReplaceAllStringFunc(expr, func(sel string) string {
		m := drsyncSelector.FindStringSubmatch(sel)
		if m[2] == "" {
			return m[1] + `{host=~"$host"}`
		}
		return m[1] + `{host=~"$host", ` + m[2][1:]
	})
}

func statDefaults(textMode string) statOptions {
	return statOptions{
		ReduceOptions:          reduceOptions{Calcs: []string{"lastNotNull"}},
		Orientation:            "auto",
		TextMode:               textMode,
		ColorMode:              "background",
		GraphMode:              "none",
		JustifyMode:            "auto",
		PercentChangeColorMode: "standard",
		WideLayout:             true,
	}
}

// stat is a per-series stat panel coloured by thresholds, set per series
// by overrides (each subvolume's own targets).
func stat(title string, w, h int, description, unitName string, overrides []override, targets ...target) panel {
	p := newPanel("stat", title, w, h, targets, true)
	p.Description = description
	p.FieldConfig.Defaults.Unit = unitName
	p.FieldConfig.Defaults.Color = &fieldColor{Mode: "thresholds"}
	p.FieldConfig.Defaults.Thresholds = &thresholds{Mode: "absolute", Steps: []thresholdStep{{Color: "green"}}}
	if overrides != nil {
		p.FieldConfig.Overrides = overrides
	}
	p.Options = statDefaults("value_and_name")
	return p
}

// withMappings shows text instead of values, and what to say when there
// are no series at all.
func withMappings(p panel, noValue string, m map[string]mappingResult) panel {
	p.FieldConfig.Defaults.NoValue = noValue
	p.FieldConfig.Defaults.Mappings = []valueMapping{{Type: "value", Options: m}}
	p.Options = statDefaults("value_and_name")
	return p
}

// recentAlerts is the design's "Recent alerts" table: every drsync alert
// active in the last 7 days with the host and subvolume it names, when it
// became active, and whether it fires now. It reads ALERTS_FOR_STATE, the
// state Prometheus keeps for the alerts it sends to Alertmanager, since
// Grafana cannot query Alertmanager's past.
func recentAlerts() panel {
	const by = `max by (alertname, severity, host, subvolume, location_name) `
	const recent = by + `(max_over_time(ALERTS_FOR_STATE{category=~"backup|disaster-recovery"}[7d]))`
	p := table("Recent alerts (7 days)", 24, 8,
		map[string]string{"Value #A": "Active since", "Value #B": "Now"},
		map[string]propertyValue{"Active since": unit("dateTimeFromNow")},
		query(recent+` * 1000`, ""),
		query(by+`(ALERTS{alertstate="firing", category=~"backup|disaster-recovery"}) or 0 * `+recent, ""))
	p.Description = "Every backup and disaster-recovery alert active in the last 7 days, from the alert state Prometheus sends Alertmanager."
	p.FieldConfig.Overrides = append(p.FieldConfig.Overrides, override{
		Matcher: matcher{ID: "byName", Options: "Now"},
		Properties: []property{
			{ID: "mappings", Value: valueMappings{{Type: "value", Options: map[string]mappingResult{
				"1": {Text: "FIRING", Color: "red", Index: 0},
				"0": {Text: "resolved or pending", Color: "green", Index: 1},
			}}}},
			{ID: "custom.cellOptions", Value: cellOptions{Type: "color-background"}},
		},
	})
	return p
}

// withResultMapping shows restore-test results as PASS/FAIL cells.
func withResultMapping(p panel) panel {
	p.FieldConfig.Defaults.Mappings = []valueMapping{{Type: "value", Options: map[string]mappingResult{
		"1": {Text: "PASS", Color: "green", Index: 0},
		"0": {Text: "FAIL", Color: "red", Index: 1},
	}}}
	p.FieldConfig.Overrides = append(p.FieldConfig.Overrides, override{
		Matcher:    matcher{ID: "byName", Options: "Result"},
		Properties: []property{{ID: "custom.cellOptions", Value: cellOptions{Type: "color-background"}}},
	})
	return p
}

// table merges instant queries into one row per series, hiding the time,
// the bare value and the metric name, renaming value columns and setting
// their units.
func table(title string, w, h int, rename map[string]string, units map[string]propertyValue, targets ...target) panel {
	for i := range targets {
		targets[i].Format = "table"
	}
	p := newPanel("table", title, w, h, targets, true)
	p.Options = tableOptions{ShowHeader: true}
	p.Transformations = []transformation{
		{ID: "merge"},
		{ID: "organize", Options: transformOptions{ExcludeByName: map[string]bool{"Time": true, "Value": true, "__name__": true}, RenameByName: rename}},
	}
	for _, name := range slices.Sorted(maps.Keys(units)) {
		p.FieldConfig.Overrides = append(p.FieldConfig.Overrides, override{
			Matcher:    matcher{ID: "byName", Options: name},
			Properties: []property{{ID: "unit", Value: units[name]}},
		})
	}
	return p
}

func timeSeries(title string, w, h int, unitName string, targets ...target) panel {
	p := newPanel("timeseries", title, w, h, targets, false)
	p.FieldConfig.Defaults.Unit = unitName
	p.Options = timeSeriesOptions{
		Legend:  legendOptions{ShowLegend: true, DisplayMode: "list", Placement: "bottom", Calcs: []string{}},
		Tooltip: tooltipOptions{Mode: "multi", Sort: "none"},
	}
	return p
}

func newPanel(typ, title string, w, h int, targets []target, instant bool) panel {
	for i := range targets {
		targets[i].RefID = string(rune('A' + i))
		targets[i].Datasource = datasource
		targets[i].Instant, targets[i].Range = instant, !instant
		if targets[i].Format == "" {
			targets[i].Format = "time_series"
		}
	}
	return panel{
		Type: typ, Title: title, GridPos: gridPos{W: w, H: h},
		Datasource: datasource, Targets: targets,
		FieldConfig: fieldConfigSrc{Overrides: []override{}},
	}
}

// thresholdOverride colours the series named name green below warn,
// yellow from warn and red from crit.
func thresholdOverride(name string, warn, crit float64) override {
	return override{
		Matcher: matcher{ID: "byName", Options: name},
		Properties: []property{{ID: "thresholds", Value: thresholds{Mode: "absolute", Steps: []thresholdStep{
			{Color: "green"}, {Color: "yellow", Value: &warn}, {Color: "red", Value: &crit},
		}}}},
	}
}

// thresholdOverrideColors gives the series named name one colour.
func thresholdOverrideColors(name, color string) override {
	return override{
		Matcher: matcher{ID: "byName", Options: name},
		Properties: []property{{ID: "thresholds", Value: thresholds{Mode: "absolute", Steps: []thresholdStep{
			{Color: color},
		}}}},
	}
}
