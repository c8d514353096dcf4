package recovery

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// pitDesired adds services and tiers with RPOs to testDesired.
func pitDesired() *schema.Desired {
	d := testDesired()
	d.Locations["backups"] = schema.Location{Path: "/var/backups"}
	d.Tiers = map[string]schema.Tier{
		"daily":  {RPO: schema.Duration{Duration: 36 * time.Hour}},
		"hourly": {RPO: schema.Duration{Duration: 2 * time.Hour}},
	}
	for _, s := range d.Subvolumes {
		s.Tier = "daily"
	}
	ext := &schema.ArchiveCopies{Location: "usb"}
	d.Services = map[string]*schema.Service{
		"grafana-db": {Name: "grafana-db", Kind: schema.ServiceSQLite, Tier: "daily", Location: "backups", External: ext,
			Database: "/srv/grafana/grafana.db", Stop: []string{"podman", "stop", "grafana"}, Start: []string{"podman", "start", "grafana"}},
		"grafana-conf": {Name: "grafana-conf", Kind: schema.ServiceFiles, Tier: "daily", Location: "backups", External: ext,
			Paths: []string{"/srv/grafana/conf"}, After: []string{"grafana-db", "docs"}},
		"prom": {Name: "prom", Kind: schema.ServicePrometheus, Tier: "hourly", Location: "backups", External: ext,
			DataDir: "/srv/prom", Unit: "prometheus.service", Owner: "65534:65534"},
	}
	return d
}

func TestComputeServicesAndPointInTime(t *testing.T) {
	at := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }
	now := at(22, 9)
	arch := func(svc string, d, h int) model.Snapshot {
		t := at(d, h)
		return model.Snapshot{Name: svc + "." + t.Format("20060102T1504") + ".tar.gz", Time: t, HasTime: true}
	}
	obs := &model.Observed{
		Subvolumes: map[string]*model.SubvolumeState{
			"docs": {Local: []model.Snapshot{snap("docs.20261120T0200", at(20, 2)), snap("docs.20261121T0200", at(21, 2))}},
			"home": {Local: []model.Snapshot{snap("home.20261121T0200", at(21, 2))}},
			"root": {Local: []model.Snapshot{snap("root.20261121T0200", at(21, 2))}},
		},
		Services: map[string]*model.ServiceState{
			// The newest local archive is gone: its copy on the drive remains.
			"grafana-db": {Archives: []model.Snapshot{arch("grafana-db", 20, 1)},
				External: []model.Snapshot{arch("grafana-db", 20, 1), arch("grafana-db", 21, 1)}},
			"grafana-conf": {Archives: []model.Snapshot{arch("grafana-conf", 19, 1), arch("grafana-conf", 21, 1)}},
			"prom":         {Archives: []model.Snapshot{arch("prom", 21, 0), arch("prom", 21, 1), arch("prom", 21, 2)}},
		},
	}
	verified := Verified{
		"docs":       {"docs.20261120T0200": at(20, 3), "docs.20261121T0200": at(21, 3)},
		"home":       {"home.20261121T0200": at(21, 3)},
		"grafana-db": {"grafana-db.20261120T0100.tar.gz": at(20, 2), "grafana-db.20261121T0100.tar.gz": at(21, 2)},
		// The 21st's archive was not verified: the 19th's is the newest verified one.
		"grafana-conf": {"grafana-conf.20261119T0100.tar.gz": at(19, 2)},
		"prom":         {"prom.20261121T0000.tar.gz": at(21, 1), "prom.20261121T0200.tar.gz": at(21, 3)},
	}
	present := map[string]Target{
		"/pool/docs": {Path: "/pool/docs", State: TargetData, Subvolume: true}, "/home": {Path: "/home", State: TargetMissing},
		"/srv/grafana/grafana.db": {Path: "/srv/grafana/grafana.db", State: TargetData},
		"/srv/grafana/conf":       {Path: "/srv/grafana/conf", State: TargetData},
		"/srv/prom":               {Path: "/srv/prom", State: TargetMissing},
	}
	d := pitDesired()
	in := Input{Desired: d, Observed: obs, Verified: verified, Targets: present}

	t.Run("a service from the drive's copy, its data kept aside", func(t *testing.T) {
		p, err := Compute(in, Request{Names: []string{"grafana-db"}, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		want := []ServiceRecovery{{Service: "grafana-db", Kind: "sqlite", Archive: "grafana-db.20261121T0100.tar.gz", ArchiveTime: at(21, 1),
			Choice: Choice{Rule: RuleNewestVerified, Verified: at(21, 2)}, Location: "usb", External: true,
			Copy:    "/usb/.snapshots/grafana-db/grafana-db.20261121T0100.tar.gz",
			Targets: []ServiceTarget{{Path: "/srv/grafana/grafana.db", State: TargetData, KeepAside: "/srv/grafana/grafana.db.pre-recover-20261122T090000"}},
			Stop:    []string{"podman", "stop", "grafana"}, Start: []string{"podman", "start", "grafana"}, Declared: d.Services["grafana-db"]}}
		if diff := cmp.Diff(want, p.Services); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})

	t.Run("a unit is stopped and started through systemctl", func(t *testing.T) {
		p, err := Compute(in, Request{Names: []string{"prom"}, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		r := p.Services[0]
		if got := strings.Join(append(r.Stop, r.Start...), " "); got != "systemctl stop prometheus.service systemctl start prometheus.service" || r.Owner != "65534:65534" {
			t.Errorf("stop/start %q, owner %q", got, r.Owner)
		}
		if r.Archive != "prom.20261121T0200.tar.gz" || r.Targets[0].KeepAside != "" {
			t.Errorf("archive %s, keep aside %q; want the newest verified and nothing to keep aside", r.Archive, r.Targets[0].KeepAside)
		}
	})

	t.Run("--at without names: every component aligned, in order", func(t *testing.T) {
		p, err := Compute(in, Request{At: at(21, 1).Add(30 * time.Minute), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		type row struct{ Name, Copy, Behind, Warning string }
		var got []row
		for _, a := range p.Aligned {
			got = append(got, row{a.Name, a.Copy, Span(a.Behind), a.Warning})
		}
		wantRows := []row{
			{"docs", "docs.20261120T0200", "23h 30m", ""},
			{"grafana-db", "grafana-db.20261121T0100.tar.gz", "30m", ""},
			// After grafana-db and docs, as it declares.
			{"grafana-conf", "grafana-conf.20261119T0100.tar.gz", "2d 30m",
				"grafana-conf.20261119T0100.tar.gz is 2d 30m before 2026-11-21 01:30, more than its tier's RPO of 1d 12h"},
			{"prom", "prom.20261121T0000.tar.gz", "1h 30m", ""},
		}
		if diff := cmp.Diff(wantRows, got); diff != "" {
			t.Errorf("aligned (-want +got):\n%s", diff)
		}
		if a := p.Aligned[0]; a.BehindSeconds != 84600 || a.RPOSeconds != 36*3600 {
			t.Errorf("docs for machines: behind %vs, RPO %vs", a.BehindSeconds, a.RPOSeconds)
		}
		if len(p.Warnings) != 2 || !strings.Contains(p.Warnings[0], "root (/) is left out") ||
			!strings.Contains(p.Warnings[1], "home is left out: no copy at or before 2026-11-21 01:30 (oldest: home.20261121T0200)") {
			t.Errorf("warnings %q, want root and home left out", p.Warnings)
		}
	})

	for _, tc := range []struct {
		name    string
		edit    func(d *schema.Desired, targets map[string]Target)
		req     Request
		wantErr string
	}{
		{"no way to stop a database", func(d *schema.Desired, _ map[string]Target) {
			d.Services["grafana-db"].Stop, d.Services["grafana-db"].Start = nil, nil
		},
			Request{Names: []string{"grafana-db"}}, "recover grafana-db: declare how to stop and start it"},
		{"a symlink in place of the data", func(_ *schema.Desired, tg map[string]Target) {
			tg["/srv/prom"] = Target{Path: "/srv/prom", State: TargetSymlink}
		}, Request{Names: []string{"prom"}}, "recover prom: /srv/prom is a symlink"},
		{"--to for a service", nil, Request{Names: []string{"prom"}, To: "/mnt/new"}, "--to recovers subvolumes"},
		{"--from an archive that is not there", nil, Request{Names: []string{"prom"}, From: "prom.2020.tar.gz"}, "--from prom.2020.tar.gz: no such archive"},
		{"nothing named and no time", nil, Request{}, "name at least one subvolume or service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := pitDesired()
			targets := map[string]Target{}
			for k, v := range present {
				targets[k] = v
			}
			if tc.edit != nil {
				tc.edit(d, targets)
			}
			tc.req.Now = now
			_, err := Compute(Input{Desired: d, Observed: obs, Verified: verified, Targets: targets}, tc.req)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}
