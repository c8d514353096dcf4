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
