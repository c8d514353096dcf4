// Package runbooks holds the disaster-recovery runbook templates, one per
// scenario of the design documents (DR-001 to DR-004). render fills them
// with the desired state's paths and commands and the evidence on record,
// so a runbook is as current as the last apply.
package runbooks

import "embed"

// FS holds the text/template files: "DR-NNN-name.md.tmpl", one per
// runbook, and "_common.tmpl" with the parts they share.
//
//go:embed *.tmpl
var FS embed.FS
