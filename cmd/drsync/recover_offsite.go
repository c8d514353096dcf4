package main

import (
	"github.com/spf13/cobra"
)

// recoverOffsiteOptions are recover's flags for off-site copies (runbook
// DR-004: the machine and the drive are gone).
type recoverOffsiteOptions struct {
	fromTarget      string
	allowUnverified bool
	identity        string
}

func addRecoverOffsiteFlags(cmd *cobra.Command, o *recoverOffsiteOptions) {
	f := cmd.Flags()
	f.StringVar(&o.fromTarget, "from-target", "", "recover from the copies on this off-site target: a subvolume's snapshot, or a service's archive from an s3 target (default: off-site copies are used when nothing local or on a present drive is left)")
	f.BoolVar(&o.allowUnverified, "allow-unverified", false, "with no off-site copy known verified (the journal is gone too), take the newest complete one")
	f.StringVar(&o.identity, "identity", "", "age identity file to decrypt S3 copies with (default: the target's identityFile)")
}
