package runbook

import (
	"slices"

	"github.com/drsync/drsync/schema"
)

// rbOffsite is one off-site target as runbook DR-004 (total loss) uses it:
// what to bring back to reach it, and what to recover from it.
type rbOffsite struct {
	Name, Kind string
	// Keys are the files kept off the machine that the target needs: its
	// credentials and age identity (s3), or its key and known_hosts (ssh).
	Keys []string
	// Subvolumes are recovered from this target: each from the first
	// declared target it is sent to, so nothing is recovered twice.
	Subvolumes []rbOffsiteSubvolume
	// Services have their newest archive fetched from it (s3 only).
	Services []string
}

type rbOffsiteSubvolume struct {
	Name string
	// To is the mounted new root a "/" is recovered into ("" otherwise).
	To string
}

// newRootMount is where the runbooks mount a new root filesystem.
const newRootMount = "/mnt/newroot"

func offsiteView(d *schema.Desired) []rbOffsite {
	var out []rbOffsite
	taken := map[string]bool{}
	for _, name := range d.TargetNames() {
		t := d.Targets[name]
		o := rbOffsite{Name: name, Kind: t.Kind}
		switch t.Kind {
		case schema.TargetS3:
			o.Keys = append(o.Keys, t.CredentialsFile)
			if t.Encryption != nil && t.Encryption.IdentityFile != "" {
				o.Keys = append(o.Keys, t.Encryption.IdentityFile)
			}
			for _, svc := range d.ServiceNames() {
				if _, ok := d.Services[svc].Offsite[name]; ok {
					o.Services = append(o.Services, svc)
				}
			}
		case schema.TargetSSH:
			o.Keys = append(o.Keys, t.IdentityFile, t.KnownHosts)
		}
		for _, sv := range d.SubvolumeNames() {
			s := d.Subvolumes[sv]
			if _, ok := s.Offsite[name]; !ok || taken[sv] {
				continue
			}
			taken[sv] = true
			r := rbOffsiteSubvolume{Name: sv}
			if s.Source == "/" || s.Source == "" {
				r.To = newRootMount
			}
			o.Subvolumes = append(o.Subvolumes, r)
		}
		if len(o.Subvolumes) > 0 || len(o.Services) > 0 {
			o.Keys = slices.DeleteFunc(o.Keys, func(k string) bool { return k == "" })
			out = append(out, o)
		}
	}
	return out
}
