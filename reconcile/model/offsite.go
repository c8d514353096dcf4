package model

import "github.com/drsync/drsync/target"

// OffsiteState is one target as observed.
type OffsiteState struct {
	// Unreachable says why the target could not be reached: its work is
	// deferred with a warning.
	Unreachable string `json:"unreachable,omitempty"`
	// Error says why it could not be observed otherwise (credentials, a
	// host key, a missing bucket): a warning that needs a person.
	Error string `json:"error,omitempty"`
	// Subvolumes holds the copies of each subvolume sent there, and
	// Services the archives of each service uploaded there.
	Subvolumes map[string]*OffsiteCopies `json:"subvolumes,omitempty"`
	Services   map[string]*OffsiteCopies `json:"services,omitempty"`
}

// OffsiteCopies is what a target holds of one subvolume.
type OffsiteCopies struct {
	Copies []target.Copy `json:"copies"`
	// Chains and Leftovers are object storage's: the chains of send
	// streams, and how many objects interrupted uploads left.
	Chains    []target.Chain `json:"chains,omitempty"`
	Leftovers int            `json:"leftovers,omitempty"`
}

// OffsiteSpec is the payload of the off-site kinds: which target, and for
// a send the parent and chain target.Plan chose.
type OffsiteSpec struct {
	Target string `json:"target"`
	// Archive says the copy is a service archive (one object and its
	// record) rather than a snapshot.
	Archive bool   `json:"archive,omitempty"`
	Parent  string `json:"parent,omitempty"`
	Chain   string `json:"chain,omitempty"`
}

func offsiteOn(a Action) string {
	switch {
	case a.Kind == KindOffsiteSend:
		return a.Snapshot + " → " + a.Location
	case a.Snapshot == "":
		return "interrupted uploads on " + a.Location
	case a.Offsite != nil && a.Offsite.Chain != "":
		return "chain " + a.Snapshot + " on " + a.Location
	}
	return a.Snapshot + " on " + a.Location
}
