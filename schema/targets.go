package schema

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"cuelang.org/go/cue"

	"github.com/drsync/drsync/schema/diag"
)

// Target kinds.
const (
	TargetSSH = "ssh"
	TargetS3  = "s3"
)

// PlaintextConsent is the sentence an s3 target must carry to be stored
// unencrypted; anything else without encryption is refused.
const PlaintextConsent = "I accept plaintext off-site"

// Target is an off-site place for copies (see #Target).
type Target struct {
	Kind           string `json:"kind"`
	BandwidthLimit string `json:"bandwidthLimit,omitempty"`

	// ssh
	Host         string `json:"host,omitempty"`
	Port         int    `json:"port,omitempty"`
	User         string `json:"user,omitempty"`
	IdentityFile string `json:"identityFile,omitempty"`
	KnownHosts   string `json:"knownHosts,omitempty"`
	Path         string `json:"path,omitempty"`

	// s3
	Endpoint        string      `json:"endpoint,omitempty"`
	Region          string      `json:"region,omitempty"`
	Bucket          string      `json:"bucket,omitempty"`
	Prefix          string      `json:"prefix,omitempty"`
	CredentialsFile string      `json:"credentialsFile,omitempty"`
	FullEvery       int         `json:"fullEvery,omitempty"`
	PartSizeMiB     int         `json:"partSizeMiB,omitempty"`
	Plaintext       string      `json:"plaintext,omitempty"`
	Encryption      *Encryption `json:"encryption,omitempty"`
}

// Encryption is age encryption of everything a target stores.
type Encryption struct {
	Recipients   []string `json:"recipients"`
	IdentityFile string   `json:"identityFile,omitempty"`
}

// OffsiteSends is when a subvolume's snapshots go to a target and how long
// they are kept there.
type OffsiteSends struct {
	Schedule  Schedule  `json:"schedule"`
	Retention Retention `json:"retention"`
	// RestoreTest and Drill override the tier's cadences for the copies
	// on this target.
	RestoreTest *OffsiteProof `json:"restoreTest,omitempty"`
	Drill       *OffsiteProof `json:"drill,omitempty"`
}

// OffsiteCopies is how long a service's archives are kept on a target.
type OffsiteCopies struct {
	Retention   Retention     `json:"retention"`
	RestoreTest *OffsiteProof `json:"restoreTest,omitempty"`
}

// OffsiteProof is a declared cadence of restore tests or drills of the
// copies on one target.
type OffsiteProof struct {
	Every Duration `json:"every"`
}

// OffsiteTestEvery is how often the copies on a target are restore-tested:
// the entry's own cadence, else the tier's.
func (d *Desired) OffsiteTestEvery(tier string, declared *OffsiteProof) time.Duration {
	if declared != nil {
		return declared.Every.Duration
	}
	return d.Tiers[tier].RestoreTest.Every.Duration
}

// OffsiteDrillEvery is how often a target's newest copy is drilled: the
// entry's own cadence, else the tier's; 0 when neither asks for drills.
func (d *Desired) OffsiteDrillEvery(tier string, declared *OffsiteProof) time.Duration {
	switch t := d.Tiers[tier]; {
	case declared != nil:
		return declared.Every.Duration
	case t.Drill != nil:
		return t.Drill.Every.Duration
	}
	return 0
}

// TargetNames returns the declared target names, sorted.
func (d *Desired) TargetNames() []string {
	return slices.Sorted(maps.Keys(d.Targets))
}

// BandwidthBytes is the declared bandwidth limit in bytes per second, 0
// when unlimited. The schema has already checked the syntax.
func (t Target) BandwidthBytes() int64 {
	s := t.BandwidthLimit
	if s == "" {
		return 0
	}
	mult := int64(1)
	switch s[len(s)-1] {
	case 'K':
		mult = 1 << 10
	case 'M':
		mult = 1 << 20
	case 'G':
		mult = 1 << 30
	}
	n, err := strconv.ParseInt(strings.TrimRight(s, "KMG"), 10, 64)
	if err != nil {
		return 0
	}
	return n * mult
}

// targetReferences checks that every target a subvolume or service names
// is declared, and that no s3 target stores plaintext by omission: a
// forgotten encryption block must never mean unencrypted copies.
func targetReferences(v cue.Value) []Problem {
	var probs []Problem
	add := func(p cue.Path, format string, args ...any) {
		probs = append(probs, Problem{Pos: diag.UserPos(v.LookupPath(p)), Path: p.String(), Message: fmt.Sprintf(format, args...)})
	}
	at := func(path ...string) cue.Path {
		sel := make([]cue.Selector, len(path))
		for i, p := range path {
			sel[i] = cue.Str(p)
		}
		return cue.MakePath(sel...)
	}
	fields := func(p cue.Path) []string {
		var out []string
		if it, err := v.LookupPath(p).Fields(); err == nil {
			for it.Next() {
				out = append(out, it.Selector().Unquoted())
			}
		}
		return out
	}
	targets := fields(at("targets"))
	for _, name := range targets {
		t := at("targets", name)
		kind, _ := v.LookupPath(at("targets", name, "kind")).String()
		if kind != TargetS3 {
			continue
		}
		_, plaintextErr := v.LookupPath(at("targets", name, "plaintext")).String()
		if !v.LookupPath(at("targets", name, "encryption")).Exists() && plaintextErr != nil {
			add(t, "s3 target without encryption: declare encryption: recipients: [\"age1…\"], or plaintext: %q to store plaintext", PlaintextConsent)
		}
	}
	for _, group := range []string{"subvolumes", "services"} {
		for _, owner := range slices.Sorted(slices.Values(fields(at(group)))) {
			for _, target := range fields(at(group, owner, "offsite")) {
				kind, _ := v.LookupPath(at("targets", target, "kind")).String()
				switch {
				case !slices.Contains(targets, target):
					add(at(group, owner, "offsite", target), "unknown target %q (declared: %s)", target, diag.ListOr(slices.Sorted(slices.Values(targets))))
				case group == "services" && kind != TargetS3:
					add(at(group, owner, "offsite", target), "target %q is %s: it receives snapshots; archives go to an s3 target", target, kind)
				}
			}
		}
	}
	return probs
}
