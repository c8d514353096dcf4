package prepare

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/recovery"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/target"
)

// fakeTarget answers listings from memory; unreachable fails its probe.
type fakeTarget struct {
	name        string
	unreachable bool
	probes      *int
	copies      map[string][]target.Copy
}

func (f fakeTarget) Name() string { return f.name }
func (f fakeTarget) Probe(context.Context) error {
	*f.probes++
	if f.unreachable {
		return fmt.Errorf("%w: connection refused", target.ErrUnreachable)
	}
	return nil
}
func (f fakeTarget) List(_ context.Context, subvolume string) ([]target.Copy, error) {
	return f.copies[subvolume], nil
}
func (f fakeTarget) Receive(context.Context, target.Snapshot, string, target.Progress) (int64, error) {
	return 0, errors.New("not in this test")
}
func (f fakeTarget) Delete(context.Context, string, string) error {
	return errors.New("not in this test")
}
func (f fakeTarget) Open(context.Context, string, string, string) (string, func() error, error) {
	return "", nil, errors.New("not in this test")
}

// fakeStore is a fakeTarget that holds service archives, as S3 does.
type fakeStore struct{ fakeTarget }

func (f fakeStore) Archives(_ context.Context, service string) ([]target.Copy, []target.Object, error) {
	return f.copies[service], nil, nil
}
func (f fakeStore) UploadArchive(context.Context, string, string, target.Progress) (int64, error) {
	return 0, errors.New("not in this test")
}
func (f fakeStore) DeleteArchive(context.Context, string, string) error {
	return errors.New("not in this test")
}
func (f fakeStore) OpenArchive(context.Context, string, string, string) (string, error) {
	return "", errors.New("not in this test")
}
func (f fakeStore) CleanupArchives(context.Context, string) ([]string, error) { return nil, nil }

// Off-site targets are read only for what needs them, each probed once;
// an unreachable one is a warning, unless --from-target names it.
func TestObserveOffsite(t *testing.T) {
	d := &schema.Desired{
		Targets: map[string]schema.Target{"bucket": {Kind: schema.TargetS3}, "host": {Kind: schema.TargetSSH}},
		Subvolumes: map[string]*schema.Subvolume{
			"docs": {Name: "docs", Offsite: map[string]schema.OffsiteSends{"bucket": {}, "host": {}}},
			"home": {Name: "home", Offsite: map[string]schema.OffsiteSends{"bucket": {}}},
		},
		Services: map[string]*schema.Service{"conf": {Name: "conf", Kind: schema.ServiceFiles, Offsite: map[string]schema.OffsiteCopies{"bucket": {}}}},
	}
	// home still has a local snapshot: its targets are not read.
	obs := &model.Observed{
		Subvolumes: map[string]*model.SubvolumeState{"docs": {}, "home": {Local: []model.Snapshot{{Name: "home.20261121T0200"}}}},
		Services:   map[string]*model.ServiceState{"conf": {}},
	}
	complete := func(name string) target.Copy { return target.Copy{Name: name, Complete: true} }
	bucketCopies := map[string][]target.Copy{
		"docs": {complete("docs.20261121T0200"), {Name: "docs.20261122T0200"}, complete("other.20261121T0200")},
		"home": {complete("home.20261121T0200")},
		"conf": {complete("conf.20261121T0100.tar.gz"), {Name: "conf.20261122T0100.tar.gz", Broken: "the object is missing"}},
	}
	for _, tc := range []struct {
		name     string
		req      recovery.Request
		hostDown bool
		want     recovery.OffsiteCopies
		wantErr  string
		wantWarn string
	}{
		{name: "what needs them, from every target", req: recovery.Request{Names: []string{"docs", "home", "conf"}},
			want: recovery.OffsiteCopies{
				"docs": {{Target: "bucket", Name: "docs.20261121T0200"}, {Target: "host", Name: "docs.20261120T0200"}},
				"conf": {{Target: "bucket", Name: "conf.20261121T0100.tar.gz"}}}},
		{name: "an unreachable target is a warning", req: recovery.Request{Names: []string{"docs"}}, hostDown: true,
			want:     recovery.OffsiteCopies{"docs": {{Target: "bucket", Name: "docs.20261121T0200"}}},
			wantWarn: "off-site copies on host not used: target unreachable: connection refused"},
		{name: "--from-target an unreachable one is an error", req: recovery.Request{Names: []string{"docs"}, FromTarget: "host"}, hostDown: true,
			wantErr: "--from-target host: target unreachable"},
		{name: "--from-target reads that target only, for local copies too", req: recovery.Request{Names: []string{"home", "conf"}, FromTarget: "bucket"},
			want: recovery.OffsiteCopies{"home": {{Target: "bucket", Name: "home.20261121T0200"}}, "conf": {{Target: "bucket", Name: "conf.20261121T0100.tar.gz"}}}},
		{name: "--from-target an undeclared target", req: recovery.Request{Names: []string{"docs"}, FromTarget: "tape"},
			wantErr: "--from-target tape: no such target is declared (declared: [bucket host])"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probes := map[string]*int{"bucket": new(int), "host": new(int)}
			open := func(_ *schema.Desired, name string) (target.Target, error) {
				if name == "bucket" {
					return fakeStore{fakeTarget{name: name, probes: probes[name], copies: bucketCopies}}, nil
				}
				return fakeTarget{name: name, unreachable: tc.hostDown, probes: probes[name],
					copies: map[string][]target.Copy{"docs": {complete("docs.20261120T0200")}}}, nil
			}
			var warnings []string
			s := Setting{Desired: d, Observed: obs, OpenTarget: open, Warn: func(w string) { warnings = append(warnings, w) }}
			got, err := observeOffsite(t.Context(), s, newOffsiteTargets(d, open, ""), tc.req.Names, tc.req)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b recovery.OffsiteCopy) bool { return a.Target == b.Target && a.Name == b.Name })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if w := strings.Join(warnings, "\n"); w != tc.wantWarn {
				t.Errorf("warnings %q, want %q", w, tc.wantWarn)
			}
			for name, n := range probes {
				if *n > 1 {
					t.Errorf("%s probed %d times, want at most once", name, *n)
				}
			}
		})
	}
}
