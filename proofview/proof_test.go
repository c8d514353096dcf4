package proofview

import (
	"bytes"
	"strings"
	"testing"

	"github.com/drsync/drsync/reconcile/model"
)

func TestFailureLine(t *testing.T) {
	tests := []struct {
		name string
		f    model.Failure
		want string
	}{
		{"both sides named", model.Failure{Path: "a/b", Check: "size", Want: "3", WantFrom: "source", Got: "4", GotFrom: "replica"},
			"✗ a/b: size (source 3, replica 4)"},
		{"unnamed sides", model.Failure{Path: "f", Check: "mode", Want: "0644", Got: "0600"}, "✗ f: mode (want 0644, got 0600)"},
		{"missing on one side", model.Failure{Path: "gone", Check: "exists", WantFrom: "source"}, "✗ gone: exists (in source)"},
		{"root", model.Failure{Check: "type"}, "✗ .: type"},
		{"control bytes escaped", model.Failure{Path: "x\x1b[2J", Check: "content"}, "✗ x\\x1b[2J: content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FailureLine(tt.f); got != tt.want {
				t.Errorf("FailureLine = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckNamesCountsXattrsOnce(t *testing.T) {
	r := model.TestReport{Checked: []model.FileCheck{
		{Path: "a", Passed: []string{"size", "xattr:user.a", "xattr:user.b"}},
		{Path: "b", Passed: []string{"size"}, Failed: []string{"sha256"}},
	}}
	if got, want := CheckNames(r), "size, xattrs, sha256"; got != want {
		t.Errorf("CheckNames = %q, want %q", got, want)
	}
	if got := CheckNames(model.TestReport{Kind: model.KindDrill}); got != drillChecks {
		t.Errorf("a drill without per-file checks: %q, want the drill's checks", got)
	}
}

func TestWriteLimitsFailuresUnlessVerbose(t *testing.T) {
	r := model.TestReport{Subvolume: "docs", Result: model.ResultFail, Snapshot: "s1", Location: "local"}
	for range 12 {
		r.Failures = append(r.Failures, model.Failure{Path: "p", Check: "size"})
	}
	var short, long bytes.Buffer
	Write(&short, Proofs{Reports: []model.TestReport{r}, Skipped: map[string]string{"notes": "no snapshot"}}, false)
	Write(&long, Proofs{Reports: []model.TestReport{r}}, true)
	if n := strings.Count(short.String(), "✗ p: size"); n != 10 {
		t.Errorf("%d failure lines without --verbose, want 10:\n%s", n, short.String())
	}
	if !strings.Contains(short.String(), "… 2 more (--verbose lists all)") || !strings.Contains(short.String(), "notes  SKIP  no snapshot") {
		t.Errorf("missing the elision or the skip line:\n%s", short.String())
	}
	if n := strings.Count(long.String(), "✗ p: size"); n != 12 {
		t.Errorf("%d failure lines with --verbose, want 12", n)
	}
}
