package offsiteview

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/drsync/drsync/providers/ssh"
	"github.com/drsync/drsync/schema"
)

// Filter is the forced-command filter the host of ssh target name runs for
// drsync's key or, given publicKey (a .pub file), that key's
// authorized_keys line for the filter installed at installPath. file names
// the desired state in errors.
func Filter(d *schema.Desired, file, name, publicKey, installPath string) ([]byte, error) {
	t, ok := d.Targets[name]
	if !ok || t.Kind != schema.TargetSSH {
		return nil, fmt.Errorf("%q is not an ssh target of %s (ssh targets: %v)", name, file, sshTargets(d))
	}
	if publicKey == "" {
		return ssh.Filter(name, t.Path), nil
	}
	pub, err := os.ReadFile(publicKey)
	if err != nil {
		return nil, fmt.Errorf("--public-key: %w", err)
	}
	return []byte(ssh.AuthorizedKey(filepath.Clean(installPath), string(pub)) + "\n"), nil
}

func sshTargets(d *schema.Desired) []string {
	var out []string
	for _, name := range d.TargetNames() {
		if d.Targets[name].Kind == schema.TargetSSH {
			out = append(out, name)
		}
	}
	return out
}
