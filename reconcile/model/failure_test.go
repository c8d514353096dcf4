package model

import (
	"strings"
	"testing"
)

func TestFailureDetail(t *testing.T) {
	upper := strings.ToUpper
	cases := []struct {
		name  string
		f     Failure
		value func(string) string
		want  string
	}{
		{"nothing", Failure{Path: "a", Check: "mode"}, nil, ""},
		{"both sides named", Failure{Want: "0644", WantFrom: "snapshot", Got: "0600", GotFrom: "restore"}, nil, "snapshot 0644, restore 0600"},
		{"unnamed sides", Failure{Want: "x", Got: "y"}, nil, "want x, got y"},
		{"only where", Failure{WantFrom: "snapshot"}, nil, "in snapshot"},
		{"values escaped", Failure{Want: "x", GotFrom: "restore", Got: "y"}, upper, "want X, restore Y"},
	}
	for _, c := range cases {
		if got := c.f.Detail(c.value); got != c.want {
			t.Errorf("%s: Detail = %q, want %q", c.name, got, c.want)
		}
	}
}
