package prove

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/providers/services"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// TestArchiveReportNamesFilesAndSides is issue 14 item 10 for services: a
// real files-service archive whose member no longer matches its recorded
// checksum. The report lists every member with its checks, by its path in
// the service (never the sandbox root it was archived from), and names the
// side of each value.
func TestArchiveReportNamesFilesAndSides(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "sandbox", "etc", "app")
	for rel, content := range map[string]string{"config.yaml": "listen: 127.0.0.1:8080\n", "secrets/token": "t\n"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(app, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(app, rel), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	svc := &schema.Service{Name: "conf", Kind: schema.ServiceFiles, Paths: []string{app}}
	archivePath := filepath.Join(dir, "archives", "conf.20261122T0330.tar.gz")
	if _, err := (services.Store{}).Backup(context.Background(), svc, archivePath); err != nil {
		t.Fatal(err)
	}
	rewriteMember(t, archivePath, "127.0.0.1:8080", "127.0.0.1:9090")

	p := &Prover{KeepFailed: time.Hour, Now: time.Now}
	r, err := p.Prove(context.Background(), model.TestRequest{Kind: model.KindTest, Subvolume: "conf",
		Snapshot: filepath.Base(archivePath), Copy: archivePath, Scratch: filepath.Join(dir, "scratch"), Service: svc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Result != model.ResultFail || len(r.Failures) != 1 {
		t.Fatalf("result %s, failures %+v", r.Result, r.Failures)
	}
	f := r.Failures[0]
	if f.Path != "app/config.yaml" || f.Check != "sha256" || f.WantFrom != "archive" || f.GotFrom != "restored copy" || len(f.Want) != 64 || len(f.Got) != 64 {
		t.Errorf("failure %+v", f)
	}
	want := []model.FileCheck{
		{Path: "conf.20261122T0330.tar.gz", Passed: []string{"checksum"}},
		{Path: "app/config.yaml", Passed: []string{"size"}, Failed: []string{"sha256"}},
		{Path: "app/secrets/token", Passed: []string{"size", "sha256"}},
	}
	slices.SortFunc(r.Checked[1:], func(a, b model.FileCheck) int { return strings.Compare(a.Path, b.Path) })
	if len(r.Checked) != len(want) {
		t.Fatalf("checked %+v", r.Checked)
	}
	for i := range want {
		if r.Checked[i].Path != want[i].Path || !slices.Equal(r.Checked[i].Passed, want[i].Passed) || !slices.Equal(r.Checked[i].Failed, want[i].Failed) {
			t.Errorf("checked[%d] = %+v, want %+v", i, r.Checked[i], want[i])
		}
	}
}

// rewriteMember replaces old with new (same length) in the uncompressed
// archive and writes a matching sidecar: the archive is intact as a file,
// but a member no longer matches the checksum recorded for it inside.
func rewriteMember(t *testing.T, archivePath, old, new string) {
	t.Helper()
	f, err := os.Open(archivePath)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	f.Close()
	if err != nil || bytes.Count(raw, []byte(old)) != 1 {
		t.Fatalf("member content not found once: %v", err)
	}
	raw = bytes.Replace(raw, []byte(old), []byte(new), 1)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(raw)
	zw.Close()
	if err := os.WriteFile(archivePath, out.Bytes(), 0o640); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(out.Bytes())
	if err := os.WriteFile(archivePath+".sha256", []byte(hex.EncodeToString(sum[:])+"  "+filepath.Base(archivePath)+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
}
