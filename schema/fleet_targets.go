package schema

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
)

// sharedTargets reports off-site places that two hosts of a fleet would
// share: one bucket prefix, or one directory on one ssh host, holding
// another's. Each host plans, prunes and cleans up its target as if it
// were the only writer (an S3 send removes the objects no manifest lists;
// a remote directory's half-received replicas are deleted), so a shared
// place could let one host take another's copies for its own leftovers.
func sharedTargets(hosts map[string]*Desired) []Problem {
	type place struct {
		owner     string // hosts.H.targets.T
		where     string // what the place is, for the message
		server    string // endpoint and bucket, or ssh host and port
		directory string // the prefix or path, ending in "/"
	}
	var places []place
	for _, h := range slices.Sorted(maps.Keys(hosts)) {
		for _, name := range slices.Sorted(maps.Keys(hosts[h].Targets)) {
			t := hosts[h].Targets[name]
			p := place{owner: "hosts." + h + ".targets." + name}
			switch t.Kind {
			case TargetS3:
				p.server, p.directory = t.Endpoint+" "+t.Bucket, strings.TrimPrefix(t.Prefix, "/")
				p.where = fmt.Sprintf("bucket %s prefix %q at %s", t.Bucket, t.Prefix, t.Endpoint)
			case TargetSSH:
				p.server, p.directory = fmt.Sprintf("%s:%d", t.Host, t.Port), path.Clean(t.Path)
				p.where = fmt.Sprintf("%s on %s", t.Path, p.server)
			default:
				continue
			}
			if !strings.HasSuffix(p.directory, "/") {
				p.directory += "/"
			}
			places = append(places, p)
		}
	}
	var probs []Problem
	for i, a := range places {
		for _, b := range places[:i] {
			host := func(p place) string { return strings.SplitN(p.owner, ".", 3)[1] }
			if a.server != b.server || host(a) == host(b) ||
				!(strings.HasPrefix(a.directory, b.directory) || strings.HasPrefix(b.directory, a.directory)) {
				continue
			}
			probs = append(probs, Problem{Path: a.owner, Message: fmt.Sprintf(
				"stores its copies in %s, where %s stores too: give each host its own prefix or path (e.g. ending in its name)",
				a.where, b.owner)})
		}
	}
	return probs
}
