package schema

import (
	"fmt"
	"strings"

	"github.com/drsync/drsync/schema/diag"
	"github.com/drsync/drsync/schema/input"
)

// Hosts returns the hosts a fleet file declares (see package input), or
// nil for one machine's file.
func Hosts(path string, tags []string) ([]string, error) {
	user, err := input.Read(path, tags, schemaFields)
	if err != nil {
		return nil, err
	}
	return input.Hosts(user)
}

// LoadFleet loads every host of a fleet file (or the one machine of any
// other file, under the name ""), reporting the problems of all of them in
// one error, each path starting with its host: what CI runs.
func LoadFleet(path string, tags []string) (map[string]*Desired, error) {
	hosts, err := Hosts(path, tags)
	if err != nil {
		return nil, err
	}
	if hosts == nil {
		d, err := Load(path, tags)
		if err != nil {
			return nil, err
		}
		return map[string]*Desired{"": d}, nil
	}
	out := map[string]*Desired{}
	var all Error
	for _, h := range hosts {
		d, err := LoadHost(path, tags, h)
		if se, ok := err.(*Error); ok {
			for _, p := range se.Problems {
				p.Path = strings.TrimSuffix("hosts."+h+"."+p.Path, ".")
				all.Problems = append(all.Problems, p)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("host %s: %w", h, err)
		}
		out[h] = d
	}
	if len(all.Problems) == 0 {
		all.Problems = sharedTargets(out)
	}
	if len(all.Problems) > 0 {
		diag.Sort(all.Problems)
		return nil, &all
	}
	return out, nil
}
