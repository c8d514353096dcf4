package main

import (
	"fmt"
	"os"

	"github.com/drsync/drsync/schema"
)

// loadDesired loads the desired state at path for this machine: in a
// fleet file (one that declares hosts), the part of the host --host names,
// or else of this machine's hostname.
func loadDesired(g *globalOptions, path string, tags []string) (*schema.Desired, error) {
	host := g.host
	if host == "" {
		hosts, err := schema.Hosts(path, tags)
		if err != nil {
			return nil, err
		}
		if hosts == nil {
			return schema.Load(path, tags)
		}
		if host, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("%s declares hosts: name this one with --host (its hostname is unknown: %w)", path, err)
		}
	}
	return schema.LoadHost(path, tags, host)
}
