// Package desired embeds the example desired states, so `drsync demo`
// runs the first user's setup with nothing but the binary.
package desired

import _ "embed"

// Homelab is homelab.cue: six subvolumes, three tiers, one USB drive.
//
//go:embed homelab.cue
var Homelab []byte
