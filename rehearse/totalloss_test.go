package rehearse

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestCheckIncrementalNamesFullSendsAndMissingOnes(t *testing.T) {
	at := time.Date(2026, 12, 5, 3, 1, 0, 0, time.UTC)
	plan := `{"subvolumes": [
		{"name": "docs", "actions": [{"kind": "offsite-send", "offsite": {"target": "cloud", "parent": "docs.2026-12-04T0301"}}]},
		{"name": "notes", "actions": [{"kind": "offsite-send", "offsite": {"target": "cloud", "parent": ""}}]},
		{"name": "music", "actions": [{"kind": "snapshot"}]}
	]}`
	var out bytes.Buffer
	err := CheckIncremental(&out, []byte(plan), at, []string{"docs", "notes", "music"})
	if err == nil {
		t.Fatal("a full send and a missing send passed")
	}
	for _, want := range []string{"notes: the next send to cloud is a full one", "music: no off-site send is planned"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "docs") || !strings.Contains(out.String(), "✓ docs → cloud incremental from docs.2026-12-04T0301") {
		t.Errorf("docs' incremental send: error %q, output %q", err, out.String())
	}
	if err := CheckIncremental(&out, []byte(plan), at, []string{"docs"}); err != nil {
		t.Errorf("only docs recovered: %v", err)
	}
	if err := CheckIncremental(&out, []byte("not json"), at, nil); err == nil {
		t.Error("a plan that is not JSON passed")
	}
}
