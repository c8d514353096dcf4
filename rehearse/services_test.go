package rehearse

import (
	"slices"
	"testing"

	"github.com/drsync/drsync/schema"
)

// The example's services live in /home (htpc-home), their archives on the
// system disk (htpc-root): the system disk's loss takes them all, the
// pool's none.
func TestServicesInTheLostSubvolumes(t *testing.T) {
	d, err := schema.Load("../examples/desired/homelab.cue", []string{"root=/sandbox"})
	if err != nil {
		t.Fatal(err)
	}
	all := d.ServiceNames()
	if got := servicesIn(d, []string{"htpc-home", "htpc-root"}); !slices.Equal(got, all) {
		t.Errorf("DR-001 takes %q, want %q", got, all)
	}
	if got := servicesIn(d, []string{"htpc-root"}); len(got) != 0 {
		t.Errorf("/ alone takes %q: /home is its own subvolume", got)
	}
	if got := servicesIn(d, []string{"subvol1-docs", "subvol2-pics", "subvol3-opptak", "subvol7-containers"}); len(got) != 0 {
		t.Errorf("the pool takes %q", got)
	}
	if got := holder(d, d.ArchiveDir(d.Services["app-db"])); got != "htpc-root" {
		t.Errorf("the archives lie in %q, want htpc-root", got)
	}
	if got := holder(d, "/elsewhere"); got != "" {
		t.Errorf("a path outside the sandbox lies in %q", got)
	}
}
