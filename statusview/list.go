package statusview

import (
	"fmt"
	"io"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// Listing is `drsync list --json`: per subvolume and service, what exists
// where.
type Listing struct {
	Drives     map[string]model.Drive `json:"drives"`
	Subvolumes []ListedSubvolume      `json:"subvolumes"`
	Services   []ListedService        `json:"services,omitempty"`
}

// ListedService is a service's archives, local and on the drive.
type ListedService struct {
	Name     string           `json:"name"`
	Kind     string           `json:"kind"`
	Location string           `json:"location"`
	Archives []model.Snapshot `json:"archives"`
	// External are the copies on the drive (absent when it is).
	External []model.Snapshot `json:"external,omitempty"`
}

// ListedSubvolume is a subvolume's snapshots, local and on the drive, and
// the directories beside them that drsync did not make.
type ListedSubvolume struct {
	Name     string           `json:"name"`
	Tier     string           `json:"tier"`
	Source   string           `json:"source"`
	Local    []model.Snapshot `json:"local"`
	External []model.Snapshot `json:"external,omitempty"`
	Foreign  []string         `json:"foreign,omitempty"`
}

// List is what exists where: each subvolume's snapshots and each
// service's archives, local and on the drive.
func List(d *schema.Desired, obs *model.Observed) Listing {
	l := Listing{Drives: obs.Drives}
	for _, name := range d.SubvolumeNames() {
		s, st := d.Subvolumes[name], obs.Subvolumes[name]
		l.Subvolumes = append(l.Subvolumes, ListedSubvolume{Name: name, Tier: s.Tier, Source: s.Source,
			Local: st.Local, External: st.External, Foreign: st.Foreign})
	}
	for _, name := range d.ServiceNames() {
		svc := d.Services[name]
		ls := ListedService{Name: name, Kind: svc.Kind, Location: svc.Location}
		if st := obs.Services[name]; st != nil {
			ls.Archives, ls.External = st.Archives, st.External
		}
		l.Services = append(l.Services, ls)
	}
	return l
}

// WriteText prints the listing: each snapshot's age and where it is, marked
// when the drive holds it too.
func (l Listing) WriteText(w io.Writer, d *schema.Desired, now time.Time) {
	for _, s := range l.Subvolumes {
		sub := d.Subvolumes[s.Name]
		fmt.Fprintf(w, "%s  tier %s  (source %s)\n", s.Name, s.Tier, s.Source)
		replicated := map[string]bool{}
		for _, r := range s.External {
			replicated[r.Name] = r.ReceivedUUID != ""
		}
		for _, snap := range s.Local {
			mark := ""
			if sub.External != nil && replicated[snap.Name] {
				mark = "  ✓ on " + sub.External.Location
			}
			fmt.Fprintf(w, "  %-40s %10s  on %s%s\n", snap.Name, AgeText(now.Sub(snap.Time)), sub.Snapshots.Location, mark)
		}
		for _, r := range s.External {
			if !model.HasName(s.Local, r.Name) {
				fmt.Fprintf(w, "  %-40s %10s  on %s only\n", r.Name, AgeText(now.Sub(r.Time)), sub.External.Location)
			}
		}
		if len(s.Local)+len(s.External) == 0 {
			fmt.Fprintln(w, "  (no snapshots)")
		}
	}
	for _, s := range l.Services {
		fmt.Fprintf(w, "%s  (service: %s)\n", s.Name, s.Kind)
		svc := d.Services[s.Name]
		for _, a := range s.Archives {
			mark := ""
			if svc.External != nil && model.HasName(s.External, a.Name) {
				mark = "  ✓ on " + svc.External.Location
			}
			fmt.Fprintf(w, "  %-40s %10s  on %s%s\n", a.Name, AgeText(now.Sub(a.Time)), s.Location, mark)
		}
		for _, c := range s.External {
			if !model.HasName(s.Archives, c.Name) {
				fmt.Fprintf(w, "  %-40s %10s  on %s only\n", c.Name, AgeText(now.Sub(c.Time)), svc.External.Location)
			}
		}
		if len(s.Archives) == 0 {
			fmt.Fprintln(w, "  (no archives)")
		}
	}
}
