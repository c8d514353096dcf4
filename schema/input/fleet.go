package input

import (
	"fmt"
	"slices"
	"strings"

	"cuelang.org/go/cue"

	"github.com/drsync/drsync/schema/diag"
)

// A fleet file declares many machines in one repository:
//
//	root: *"" | string @tag(root)
//	_shared: {tiers: …, alerting: …, pings: …}   // hidden: what every host unifies with
//	hosts: {
//		htpc: _shared & {locations: …, subvolumes: …}
//		nas:  _shared & {…}
//	}
//
// Each host's part is a whole desired state, checked against #Desired on its
// own; root, when declared at the top, is every host's root. A hidden field
// carries what hosts share, as CUE users share anything, so nothing drsync
// invents stands between a user and CUE (a definition would close the
// struct and refuse each host's own fields). Regular fields beside hosts and
// root would be read by no host, so they are an error.

// fleetFields are the regular top-level fields a fleet file may declare.
var fleetFields = []string{"hosts", "root"}

// isFleet says whether a user's value declares hosts.
func isFleet(user cue.Value) bool {
	return user.LookupPath(cue.ParsePath("hosts")).Exists()
}

// hostNames returns the hosts a fleet value declares, sorted.
func hostNames(user cue.Value) []string {
	var out []string
	if it, err := user.LookupPath(cue.ParsePath("hosts")).Fields(); err == nil {
		for it.Next() {
			out = append(out, it.Selector().Unquoted())
		}
	}
	slices.Sort(out)
	return out
}

// SelectHost returns the part of user that #Desired checks: user itself
// for a single machine's file, or host's part of a fleet file with the
// fleet's root.
func SelectHost(user cue.Value, path, host string) (cue.Value, error) {
	if !isFleet(user) {
		return user, nil
	}
	if err := strayFields(user); err != nil {
		return cue.Value{}, err
	}
	names := hostNames(user)
	if host == "" {
		return cue.Value{}, fmt.Errorf("%s declares hosts %s: choose one with --host", path, strings.Join(names, ", "))
	}
	part := user.LookupPath(cue.MakePath(cue.Str("hosts"), cue.Str(host)))
	if !part.Exists() {
		return cue.Value{}, fmt.Errorf("%s: host %q is not declared (declared: %s)", path, host, diag.ListOr(names))
	}
	if root := user.LookupPath(cue.ParsePath("root")); root.Exists() && !part.LookupPath(cue.ParsePath("root")).Exists() {
		part = part.FillPath(cue.ParsePath("root"), root)
	}
	return part, nil
}

// strayFields reports the regular top-level fields of a fleet file that no
// host reads.
func strayFields(user cue.Value) error {
	var probs []diag.Problem
	if it, err := user.Fields(); err == nil {
		for it.Next() {
			if name := it.Selector().Unquoted(); !slices.Contains(fleetFields, name) {
				probs = append(probs, diag.Problem{Pos: diag.PosOf(it.Value()), Path: name,
					Message: "a fleet file declares only hosts and root: no host reads this field (share settings through a hidden field, like _shared, that each host unifies with)"})
			}
		}
	}
	if len(probs) > 0 {
		return &diag.Error{Problems: probs}
	}
	return nil
}

// Hosts returns the hosts a user's value declares, or nil for one
// machine's file; an error lists the regular top-level fields of a fleet
// file that no host reads.
func Hosts(user cue.Value) ([]string, error) {
	if !isFleet(user) {
		return nil, nil
	}
	return hostNames(user), strayFields(user)
}
