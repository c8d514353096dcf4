package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/statusview"
)

// listing is `drsync list --json`: per subvolume, what exists where.
type listing struct {
	Drives     map[string]model.Drive `json:"drives"`
	Subvolumes []listedSubvolume      `json:"subvolumes"`
	Services   []listedService        `json:"services,omitempty"`
}

type listedService struct {
	Name     string           `json:"name"`
	Kind     string           `json:"kind"`
	Location string           `json:"location"`
	Archives []model.Snapshot `json:"archives"`
	// External are the copies on the drive (absent when it is).
	External []model.Snapshot `json:"external,omitempty"`
}

type listedSubvolume struct {
	Name     string           `json:"name"`
	Tier     string           `json:"tier"`
	Source   string           `json:"source"`
	Local    []model.Snapshot `json:"local"`
	External []model.Snapshot `json:"external,omitempty"`
	Foreign  []string         `json:"foreign,omitempty"`
}

func newListCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the snapshots and replicas that exist, per subvolume",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(g)
		},
	}
}

// runList shows what exists where.
func runList(g *globalOptions) error {
	d, obs, now, err := loadObserved(g)
	if err != nil {
		return err
	}
	l := listing{Drives: obs.Drives}
	for _, name := range d.SubvolumeNames() {
		s, st := d.Subvolumes[name], obs.Subvolumes[name]
		l.Subvolumes = append(l.Subvolumes, listedSubvolume{Name: name, Tier: s.Tier, Source: s.Source,
			Local: st.Local, External: st.External, Foreign: st.Foreign})
	}
	for _, name := range d.ServiceNames() {
		svc := d.Services[name]
		ls := listedService{Name: name, Kind: svc.Kind, Location: svc.Location}
		if st := obs.Services[name]; st != nil {
			ls.Archives, ls.External = st.Archives, st.External
		}
		l.Services = append(l.Services, ls)
	}
	if g.json {
		return writeJSON(g.stdout, l)
	}
	for _, s := range l.Subvolumes {
		sub := d.Subvolumes[s.Name]
		fmt.Fprintf(g.stdout, "%s  tier %s  (source %s)\n", s.Name, s.Tier, s.Source)
		replicated := map[string]bool{}
		for _, r := range s.External {
			replicated[r.Name] = r.ReceivedUUID != ""
		}
		for _, snap := range s.Local {
			mark := ""
			if sub.External != nil && replicated[snap.Name] {
				mark = "  ✓ on " + sub.External.Location
			}
			fmt.Fprintf(g.stdout, "  %-40s %10s  on %s%s\n", snap.Name, statusview.AgeText(now.Sub(snap.Time)), sub.Snapshots.Location, mark)
		}
		for _, r := range s.External {
			if !model.HasName(s.Local, r.Name) {
				fmt.Fprintf(g.stdout, "  %-40s %10s  on %s only\n", r.Name, statusview.AgeText(now.Sub(r.Time)), sub.External.Location)
			}
		}
		if len(s.Local)+len(s.External) == 0 {
			fmt.Fprintln(g.stdout, "  (no snapshots)")
		}
	}
	for _, s := range l.Services {
		fmt.Fprintf(g.stdout, "%s  (service: %s)\n", s.Name, s.Kind)
		svc := d.Services[s.Name]
		for _, a := range s.Archives {
			mark := ""
			if svc.External != nil && model.HasName(s.External, a.Name) {
				mark = "  ✓ on " + svc.External.Location
			}
			fmt.Fprintf(g.stdout, "  %-40s %10s  on %s%s\n", a.Name, statusview.AgeText(now.Sub(a.Time)), s.Location, mark)
		}
		for _, c := range s.External {
			if !model.HasName(s.Archives, c.Name) {
				fmt.Fprintf(g.stdout, "  %-40s %10s  on %s only\n", c.Name, statusview.AgeText(now.Sub(c.Time)), svc.External.Location)
			}
		}
		if len(s.Archives) == 0 {
			fmt.Fprintln(g.stdout, "  (no archives)")
		}
	}
	return nil
}
