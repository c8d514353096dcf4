package schema

import (
	"slices"
	"testing"
)

func TestRecoveryOrder(t *testing.T) {
	d := &Desired{
		Subvolumes: map[string]*Subvolume{"home": {Name: "home"}, "root": {Name: "root"}},
		Services: map[string]*Service{
			"app":     {Name: "app", After: []string{"app-db", "home"}},
			"app-db":  {Name: "app-db"},
			"grafana": {Name: "grafana", After: []string{"grafana-db"}},
			// grafana-db comes after a subvolume not recovered here: no constraint.
			"grafana-db": {Name: "grafana-db", After: []string{"root"}},
		},
	}
	for _, tc := range []struct {
		names, want []string
	}{
		{[]string{"app", "app-db", "grafana", "grafana-db", "home", "root"}, []string{"home", "root", "app-db", "app", "grafana-db", "grafana"}},
		{[]string{"grafana", "grafana-db"}, []string{"grafana-db", "grafana"}},
		{[]string{"app", "home"}, []string{"home", "app"}},
		{[]string{"grafana"}, []string{"grafana"}},
	} {
		if got := d.RecoveryOrder(tc.names); !slices.Equal(got, tc.want) {
			t.Errorf("RecoveryOrder(%v) = %v, want %v", tc.names, got, tc.want)
		}
	}
	if c := d.afterCycle(); c != nil {
		t.Errorf("afterCycle found %v in an acyclic state", c)
	}
	d.Services["app-db"].After = []string{"app"}
	if c := d.afterCycle(); !slices.Equal(c, []string{"app", "app-db"}) {
		t.Errorf("afterCycle = %v, want [app app-db]", c)
	}
}

// The example's services live in /home (htpc-home), their archives on the
// system disk (htpc-root): the system disk's loss takes them all, the
// pool's none.
func TestServicesInTheLostSubvolumes(t *testing.T) {
	d, err := Load("../examples/desired/homelab.cue", []string{"root=/sandbox"})
	if err != nil {
		t.Fatal(err)
	}
	all := d.ServiceNames()
	if got := d.ServicesIn([]string{"htpc-home", "htpc-root"}); !slices.Equal(got, all) {
		t.Errorf("DR-001 takes %q, want %q", got, all)
	}
	if got := d.ServicesIn([]string{"htpc-root"}); len(got) != 0 {
		t.Errorf("/ alone takes %q: /home is its own subvolume", got)
	}
	if got := d.ServicesIn([]string{"subvol1-docs", "subvol2-pics", "subvol3-opptak", "subvol7-containers"}); len(got) != 0 {
		t.Errorf("the pool takes %q", got)
	}
	if got := d.SubvolumeHolding(d.ArchiveDir(d.Services["app-db"])); got != "htpc-root" {
		t.Errorf("the archives lie in %q, want htpc-root", got)
	}
	if got := d.SubvolumeHolding("/elsewhere"); got != "" {
		t.Errorf("a path outside the sandbox lies in %q", got)
	}
	if got := d.SubvolumeHolding("/sandbox/homex"); got != "htpc-root" {
		t.Errorf("/sandbox/homex lies in %q: a name that only starts like /home is not in it", got)
	}
}
