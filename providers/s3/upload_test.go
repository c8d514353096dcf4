package s3

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The upload is checked as the server stored it, without reading it back:
// a server that answers for other bytes than it was sent (a part's ETag,
// the completed object's ETag, its size) fails the upload, and nothing is
// recorded. The real versitygw sits behind a proxy that rewrites one
// answer, as a server storing something else would.
func TestUploadCatchesServerStoringOtherBytes(t *testing.T) {
	lie := func(rw func(r *http.Request, h http.Header)) func(*http.Response) error {
		return func(resp *http.Response) error {
			rw(resp.Request, resp.Header)
			return nil
		}
	}
	for _, tc := range []struct {
		name, want string
		modify     func(*http.Response) error
	}{
		{"a part's ETag", "the server stored ETag", lie(func(r *http.Request, h http.Header) {
			if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") == "2" {
				h.Set("ETag", `"0123456789abcdef0123456789abcdef"`)
			}
		})},
		{"the object's size", "is stored as", lie(func(r *http.Request, h http.Header) {
			if r.Method == http.MethodHead {
				h.Set("Content-Length", "1234")
			}
		})},
		{"the object's ETag", "is stored as", lie(func(r *http.Request, h http.Header) {
			if r.Method == http.MethodHead {
				h.Set("ETag", `"0123456789abcdef0123456789abcdef-2"`)
			}
		})},
		{"nothing: an honest server", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBench(t)
			u, _ := url.Parse(b.server.Endpoint)
			proxy := httputil.NewSingleHostReverseProxy(u)
			proxy.ModifyResponse = tc.modify
			front := httptest.NewServer(proxy)
			defer front.Close()
			b.cfg.Endpoint = front.URL
			tg := b.target(t)
			tg.PartSize = 5 << 20

			archive := filepath.Join(t.TempDir(), "grafana-db.20261122T0100.tar.gz")
			content := make([]byte, 12<<20) // three parts
			rand.Read(content)
			os.WriteFile(archive, content, 0o600)
			sum := sha256.Sum256(content)
			os.WriteFile(archive+".sha256", []byte(hex.EncodeToString(sum[:])+"  x\n"), 0o600)
			_, err := tg.UploadArchive(t.Context(), "grafana-db", archive, nil)
			copies, _, lerr := tg.Archives(t.Context(), "grafana-db")
			if lerr != nil {
				t.Fatal(lerr)
			}
			if tc.want == "" {
				if err != nil || len(copies) != 1 {
					t.Fatalf("honest upload: %v, copies %+v", err, copies)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("upload: %v, want an error with %q", err, tc.want)
			}
			if len(copies) != 0 {
				t.Errorf("a failed upload was recorded: %+v", copies)
			}
		})
	}
}
