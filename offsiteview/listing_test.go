package offsiteview

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drsync/drsync/target"
)

func TestWriteSaysWhatEachTargetHoldsAndWhatDrsyncMayDo(t *testing.T) {
	var out bytes.Buffer
	Write(&out, []Listing{
		{Target: "away", Kind: "ssh", Problem: "dial tcp: no route to host"},
		{Target: "bucket", Kind: "s3", Reachable: true, Problem: "403 Forbidden"},
		{Target: "cloud", Kind: "s3", Reachable: true,
			Subvolumes: map[string][]target.Copy{
				"notes": nil,
				"docs": {
					{Name: "docs.1", Complete: true, Chain: "c1"},
					{Name: "docs.2", Complete: true},
					{Name: "docs.3"},
					{Name: "docs.4", Complete: true, Broken: "checksum mismatch"},
					{Name: "holiday.tar", Foreign: true},
				},
			},
			Services: map[string][]target.Copy{"prom": {{Name: "prom.1", Complete: true}}}},
	})
	want := `away (ssh): unreachable, deferred: dial tcp: no route to host
bucket (s3): 403 Forbidden
cloud (s3): reachable
  subvolume docs
    docs.1  complete (chain c1)
    docs.2  complete
    docs.3  incomplete: removed by the next apply
    docs.4  BROKEN: checksum mismatch
    holiday.tar  not drsync's: left alone
  subvolume notes
    (no copies yet)
  service prom
    prom.1  complete
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("offsite list (-want +got):\n%s", diff)
	}
}
