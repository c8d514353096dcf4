package schema

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"cuelang.org/go/cue"

	"github.com/drsync/drsync/schema/diag"
)

// checkRecovery finds what the recovery fields' types cannot: a stop
// without a start (or the reverse), a unit beside commands, an after
// naming nothing declared, and a cycle among the afters.
func (d *Desired) checkRecovery(v, user cue.Value) []Problem {
	var probs []Problem
	add := func(path []any, format string, args ...any) {
		sel := make([]cue.Selector, len(path))
		for i, p := range path {
			switch p := p.(type) {
			case string:
				sel[i] = cue.Str(p)
			case int:
				sel[i] = cue.Index(p)
			}
		}
		p := cue.MakePath(sel...)
		probs = append(probs, Problem{Pos: diag.PosIn(user, v, p), Path: p.String(), Message: fmt.Sprintf(format, args...)})
	}
	known := d.componentNames()
	for _, name := range d.ServiceNames() {
		s := d.Services[name]
		switch {
		case s.Unit != "" && (len(s.Stop) > 0 || len(s.Start) > 0):
			add([]any{"services", name, "unit"}, "declare either unit or stop and start commands, not both")
		case len(s.Stop) > 0 && len(s.Start) == 0:
			add([]any{"services", name, "stop"}, "stop needs a start command too: a recovery starts the service again")
		case len(s.Start) > 0 && len(s.Stop) == 0:
			add([]any{"services", name, "start"}, "start needs a stop command too: a recovery stops the service before replacing its data")
		}
		for i, a := range s.After {
			switch {
			case a == name:
				add([]any{"services", name, "after", i}, "%q cannot come after itself", a)
			case !slices.Contains(known, a):
				add([]any{"services", name, "after", i}, "unknown subvolume or service %q (declared: %s)", a, diag.ListOr(known))
			}
		}
	}
	if cycle := d.afterCycle(); cycle != nil {
		first := cycle[0]
		add([]any{"services", first, "after"}, "recovery order has a cycle: %s", strings.Join(append(cycle, first), " → "))
	}
	return probs
}

// componentNames lists every subvolume and service, sorted.
func (d *Desired) componentNames() []string {
	return slices.Sorted(slices.Values(append(d.SubvolumeNames(), d.ServiceNames()...)))
}

// afterCycle returns services that come after each other in a ring, or nil.
func (d *Desired) afterCycle() []string {
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var stack []string
	var found []string
	var visit func(string) bool
	visit = func(n string) bool {
		state[n] = active
		stack = append(stack, n)
		if s := d.Services[n]; s != nil {
			for _, a := range s.After {
				if a == n {
					continue // reported on its own
				}
				switch state[a] {
				case active:
					found = slices.Clone(stack[slices.Index(stack, a):])
					return true
				case unseen:
					if visit(a) {
						return true
					}
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		return false
	}
	for _, n := range d.ServiceNames() {
		if state[n] == unseen && visit(n) {
			return found
		}
	}
	return nil
}

// RecoveryOrder sorts names (subvolumes and services) so that each comes
// after what it names in after, where that is among names too; otherwise
// subvolumes first, then services, each by name. The desired state was
// checked for cycles when it was loaded.
func (d *Desired) RecoveryOrder(names []string) []string {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	rank := func(n string) string {
		if d.Services[n] != nil {
			return "1" + n
		}
		return "0" + n
	}
	pending := slices.SortedFunc(slices.Values(slices.Compact(slices.Sorted(slices.Values(names)))), func(a, b string) int {
		return strings.Compare(rank(a), rank(b))
	})
	placed := map[string]bool{}
	var out []string
	for len(pending) > 0 {
		progressed := false
		for i, n := range pending {
			ready := true
			if s := d.Services[n]; s != nil {
				for _, a := range s.After {
					if want[a] && !placed[a] && a != n {
						ready = false
						break
					}
				}
			}
			if ready {
				out = append(out, n)
				placed[n] = true
				pending = slices.Delete(pending, i, i+1)
				progressed = true
				break
			}
		}
		if !progressed { // a cycle: Load refuses one, but never loop
			return append(out, pending...)
		}
	}
	return out
}

// LivePaths are the paths a service's data lives at, in archive order.
func (s *Service) LivePaths() []string {
	switch s.Kind {
	case ServicePrometheus:
		return []string{s.DataDir}
	case ServiceSQLite:
		return []string{s.Database}
	}
	return s.Paths
}

// SubvolumeHolding is the subvolume whose source holds path most closely
// ("" when no source holds it): a path in /home/x lies in the subvolume
// at /home, not in the one at /.
func (d *Desired) SubvolumeHolding(path string) string {
	best, bestLen := "", -1
	for _, name := range d.SubvolumeNames() {
		src := filepath.Clean(d.Subvolumes[name].Source)
		if (path == src || strings.HasPrefix(path, strings.TrimSuffix(src, "/")+"/")) && len(src) > bestLen {
			best, bestLen = name, len(src)
		}
	}
	return best
}

// ServicesIn are the services with data in one of subvolumes, sorted: a
// disaster that takes those subvolumes takes these services' data too.
func (d *Desired) ServicesIn(subvolumes []string) []string {
	var out []string
	for _, name := range d.ServiceNames() {
		if d.ServiceSubvolume(d.Services[name], subvolumes) != "" {
			out = append(out, name)
		}
	}
	return out
}

// ServiceSubvolume is the one of subvolumes that holds the service's data
// (the first of its live paths one of them holds), "" when none does.
func (d *Desired) ServiceSubvolume(s *Service, subvolumes []string) string {
	for _, p := range s.LivePaths() {
		if holder := d.SubvolumeHolding(p); holder != "" && slices.Contains(subvolumes, holder) {
			return holder
		}
	}
	return ""
}
