// Package offsiteview lists and words what each off-site target holds, as
// `drsync offsite list` shows it.
package offsiteview

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/drsync/drsync/providers/s3"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/target"
)

// Listing is what one target holds, or why it could not say.
type Listing struct {
	Target     string                   `json:"target"`
	Kind       string                   `json:"kind"`
	Reachable  bool                     `json:"reachable"`
	Problem    string                   `json:"problem,omitempty"`
	Subvolumes map[string][]target.Copy `json:"subvolumes,omitempty"`
	Services   map[string][]target.Copy `json:"services,omitempty"`
}

// List says what the target name holds for the subvolumes and services
// that declare it, opened with open (the CLI's providers); an unreachable
// target is deferred work, reported rather than failed.
func List(ctx context.Context, d *schema.Desired, name string, open func(*schema.Desired, string) (target.Target, error)) Listing {
	l := Listing{Target: name, Kind: d.Targets[name].Kind}
	tgt, err := open(d, name)
	if err == nil {
		err = tgt.Probe(ctx)
	}
	if err != nil {
		// Unreachable is deferred work, not a failure; anything else
		// (credentials, host key, bucket) is.
		l.Reachable = !errors.Is(err, target.ErrUnreachable)
		l.Problem = err.Error()
		return l
	}
	l.Reachable = true
	l.Subvolumes = map[string][]target.Copy{}
	for _, sv := range d.SubvolumeNames() {
		if _, ok := d.Subvolumes[sv].Offsite[name]; !ok {
			continue
		}
		copies, err := tgt.List(ctx, sv)
		if err != nil {
			l.Problem = err.Error()
			return l
		}
		l.Subvolumes[sv] = copies
	}
	if s3t, ok := tgt.(*s3.Target); ok {
		l.Services = map[string][]target.Copy{}
		for _, svc := range d.ServiceNames() {
			if _, ok := d.Services[svc].Offsite[name]; !ok {
				continue
			}
			copies, _, err := s3t.Archives(ctx, svc)
			if err != nil {
				l.Problem = err.Error()
				return l
			}
			l.Services[svc] = copies
		}
	}
	return l
}

// ListAll lists the target only names, or every declared target (file
// names the desired state in errors). failed says a reachable target could
// not say what it holds.
func ListAll(ctx context.Context, d *schema.Desired, file, only string, open func(*schema.Desired, string) (target.Target, error)) (ls []Listing, failed bool, err error) {
	if only != "" {
		if _, ok := d.Targets[only]; !ok {
			return nil, false, fmt.Errorf("no target %q in %s (declared: %v)", only, file, d.TargetNames())
		}
	}
	for _, name := range d.TargetNames() {
		if only != "" && name != only {
			continue
		}
		l := List(ctx, d, name, open)
		if l.Problem != "" && l.Reachable {
			failed = true
		}
		ls = append(ls, l)
	}
	return ls, failed, nil
}

// Write prints the listings as `drsync offsite list` shows them.
func Write(w io.Writer, ls []Listing) {
	for _, l := range ls {
		switch {
		case !l.Reachable:
			fmt.Fprintf(w, "%s (%s): unreachable, deferred: %s\n", l.Target, l.Kind, l.Problem)
			continue
		case l.Problem != "":
			fmt.Fprintf(w, "%s (%s): %s\n", l.Target, l.Kind, l.Problem)
			continue
		}
		fmt.Fprintf(w, "%s (%s): reachable\n", l.Target, l.Kind)
		for _, group := range []struct {
			what   string
			copies map[string][]target.Copy
		}{{"subvolume", l.Subvolumes}, {"service", l.Services}} {
			for _, owner := range slices.Sorted(maps.Keys(group.copies)) {
				fmt.Fprintf(w, "  %s %s\n", group.what, owner)
				if len(group.copies[owner]) == 0 {
					fmt.Fprintln(w, "    (no copies yet)")
				}
				for _, c := range group.copies[owner] {
					fmt.Fprintf(w, "    %s  %s\n", c.Name, copyState(c))
				}
			}
		}
	}
}

// copyState says whether drsync may use, repair or must leave a copy.
func copyState(c target.Copy) string {
	switch {
	case c.Foreign:
		return "not drsync's: left alone"
	case c.Broken != "":
		return "BROKEN: " + c.Broken
	case !c.Complete:
		return "incomplete: removed by the next apply"
	case c.Chain != "":
		return "complete (chain " + c.Chain + ")"
	}
	return "complete"
}
