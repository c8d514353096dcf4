package fleet

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/drsync/drsync/schema"
)

// WriteText prints the report for a person: one block per host, a line
// per subvolume, then the host's firing alerts.
func (r Report) WriteText(w io.Writer) error {
	if len(r.Hosts) == 0 {
		_, err := fmt.Fprintf(w, "fleet status (from %s): no host reports drsync metrics\n", r.Prometheus)
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "fleet status (from %s, %d hosts)\n", r.Prometheus, len(r.Hosts))
	for _, h := range r.Hosts {
		name := h.Name
		if name == "" {
			name = "(unnamed: no host label)"
		}
		verdict := "RPO met"
		if h.RPOBroken {
			var broken []string
			for _, s := range h.Subvolumes {
				if s.RPOBroken {
					broken = append(broken, s.Name)
				}
			}
			verdict = "RPO BROKEN: " + strings.Join(broken, ", ")
		}
		fmt.Fprintf(&b, "\nhost %s  %s\n", name, verdict)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  subvolume\tnewest\tverified (real RPO)\ttarget\tlast test\tlast drill")
		for _, s := range h.Subvolumes {
			verified := ago(r.Time, s.Verified)
			if s.RPOBroken {
				verified += " !"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", s.Name, ago(r.Time, s.Newest), verified,
				schema.FormatDuration(s.RPO), result(r.Time, s.LastTest, s.TestPassed), result(r.Time, s.LastDrill, s.DrillPassed))
		}
		tw.Flush()
		for _, a := range h.Alerts {
			what := a.Subvolume
			if what == "" {
				what = a.Drive
			}
			fmt.Fprintf(&b, "  firing: %s (%s) %s\n", a.Name, a.Severity, what)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return schema.Age(now.Sub(t)) + " ago"
}

func result(now, t time.Time, passed *bool) string {
	if t.IsZero() {
		return "never"
	}
	switch {
	case passed == nil:
		return ago(now, t)
	case *passed:
		return ago(now, t) + " pass"
	}
	return ago(now, t) + " FAIL"
}
