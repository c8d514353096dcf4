// Package fleet reports on many machines from the one place that already
// sees them all: the Prometheus that scrapes their drsync metrics. drsync
// runs no coordinator of its own.
package fleet

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Subvolume is what Prometheus knows of one subvolume (or service) of a
// host. Zero times mean never.
type Subvolume struct {
	Name        string        `json:"name"`
	Tier        string        `json:"tier,omitempty"`
	Newest      time.Time     `json:"newest,omitzero"`
	Verified    time.Time     `json:"verified,omitzero"` // newest snapshot a passing test verified
	RPO         time.Duration `json:"rpoSeconds"`
	LastTest    time.Time     `json:"lastTest,omitzero"`
	TestPassed  *bool         `json:"testPassed,omitempty"`
	LastDrill   time.Time     `json:"lastDrill,omitzero"`
	DrillPassed *bool         `json:"drillPassed,omitempty"`
	// RPOBroken: the newest verified copy is older than the RPO, or there
	// is none.
	RPOBroken bool `json:"rpoBroken"`
}

// Alert is one firing drsync alert.
type Alert struct {
	Name      string `json:"name"`
	Severity  string `json:"severity"`
	Subvolume string `json:"subvolume,omitempty"`
	Drive     string `json:"drive,omitempty"`
}

// Host is one machine's status.
type Host struct {
	Name       string      `json:"host"`
	Subvolumes []Subvolume `json:"subvolumes"`
	Alerts     []Alert     `json:"alerts"`
	RPOBroken  bool        `json:"rpoBroken"`
}

// Report is every host Prometheus knows, sorted by name.
type Report struct {
	Prometheus string    `json:"prometheus"`
	Time       time.Time `json:"time"`
	Hosts      []Host    `json:"hosts"`
}

// RPOBroken says whether any host breaks its RPO.
func (r Report) RPOBroken() bool {
	return slices.ContainsFunc(r.Hosts, func(h Host) bool { return h.RPOBroken })
}

// Querier runs an instant query (see Prometheus for the real one).
type Querier interface {
	Query(ctx context.Context, query string, at time.Time) ([]Sample, error)
}

// Series of one value per host and subvolume. The machine without a host
// label (a single machine that does not name itself) shows as "".
const (
	qTarget   = `max by (host, subvolume, tier) (backup_rpo_target_seconds)`
	qNewest   = `max by (host, subvolume) (backup_newest_snapshot_timestamp)`
	qVerified = `max by (host, subvolume) (backup_verified_snapshot_timestamp)`
	qTest     = `max by (host, subvolume) (backup_restore_test_last_run_timestamp)`
	qTestOK   = `min by (host, subvolume) (backup_restore_test_success)`
	qDrill    = `max by (host, subvolume) (backup_drill_last_run_timestamp)`
	qDrillOK  = `min by (host, subvolume) (backup_drill_success)`
	qAlerts   = `ALERTS{alertstate="firing", category=~"backup|disaster-recovery"}`
)

// Status asks Prometheus for every host's status at now.
func Status(ctx context.Context, q Querier, now time.Time) (Report, error) {
	get := func(query string) ([]Sample, error) {
		vec, err := q.Query(ctx, query, now)
		if err != nil {
			return nil, fmt.Errorf("querying %s: %w", query, err)
		}
		return vec, nil
	}
	targets, err := get(qTarget)
	if err != nil {
		return Report{}, err
	}
	hosts := map[string]*Host{}
	subs := map[[2]string]*Subvolume{}
	for _, s := range targets {
		h, name := string(s.Labels["host"]), string(s.Labels["subvolume"])
		if hosts[h] == nil {
			hosts[h] = &Host{Name: h, Alerts: []Alert{}}
		}
		subs[[2]string{h, name}] = &Subvolume{Name: name, Tier: string(s.Labels["tier"]), RPO: time.Duration(s.Value * float64(time.Second))}
	}
	fill := []struct {
		query string
		set   func(*Subvolume, float64)
	}{
		{qNewest, func(s *Subvolume, v float64) { s.Newest = unix(v) }},
		{qVerified, func(s *Subvolume, v float64) { s.Verified = unix(v) }},
		{qTest, func(s *Subvolume, v float64) { s.LastTest = unix(v) }},
		{qTestOK, func(s *Subvolume, v float64) { s.TestPassed = ptr(v == 1) }},
		{qDrill, func(s *Subvolume, v float64) { s.LastDrill = unix(v) }},
		{qDrillOK, func(s *Subvolume, v float64) { s.DrillPassed = ptr(v == 1) }},
	}
	for _, f := range fill {
		vec, err := get(f.query)
		if err != nil {
			return Report{}, err
		}
		for _, s := range vec {
			if sub := subs[[2]string{string(s.Labels["host"]), string(s.Labels["subvolume"])}]; sub != nil {
				f.set(sub, s.Value)
			}
		}
	}
	alerts, err := get(qAlerts)
	if err != nil {
		return Report{}, err
	}
	for _, a := range alerts {
		h := hosts[string(a.Labels["host"])]
		if h == nil {
			continue // an alert of a host whose targets are gone
		}
		h.Alerts = append(h.Alerts, Alert{Name: string(a.Labels["alertname"]), Severity: string(a.Labels["severity"]),
			Subvolume: string(a.Labels["subvolume"]), Drive: string(a.Labels["location_name"])})
	}
	for _, key := range slices.SortedFunc(maps.Keys(subs), func(a, b [2]string) int {
		if a[0] != b[0] {
			return strings.Compare(a[0], b[0])
		}
		return strings.Compare(a[1], b[1])
	}) {
		s := subs[key]
		s.RPOBroken = s.Verified.IsZero() || now.Sub(s.Verified) > s.RPO
		h := hosts[key[0]]
		h.Subvolumes = append(h.Subvolumes, *s)
		h.RPOBroken = h.RPOBroken || s.RPOBroken
	}
	r := Report{Time: now}
	for _, name := range slices.Sorted(maps.Keys(hosts)) {
		h := hosts[name]
		slices.SortFunc(h.Alerts, func(a, b Alert) int {
			return strings.Compare(a.Name+"\x00"+a.Subvolume+"\x00"+a.Drive, b.Name+"\x00"+b.Subvolume+"\x00"+b.Drive)
		})
		r.Hosts = append(r.Hosts, *h)
	}
	return r, nil
}

func unix(v float64) time.Time { return time.Unix(0, int64(v*float64(time.Second))) }

func ptr[T any](v T) *T { return &v }
