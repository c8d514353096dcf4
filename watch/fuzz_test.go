package watch

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// FuzzWebhook sends the real handler arbitrary bodies and signature headers
// under arbitrary secrets: it answers 202 and asks for a fetch exactly when
// the header is "sha256=" and the hex HMAC-SHA256 of the body under the
// secret (GitHub's X-Hub-Signature-256), 401 otherwise, and never panics.
func FuzzWebhook(f *testing.F) {
	sign := func(secret, body string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(body))
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	f.Add("s3cret", `{"ref":"refs/heads/main"}`, sign("s3cret", `{"ref":"refs/heads/main"}`))
	f.Add("s3cret", `{"ref":"refs/heads/main"}`, sign("other", `{"ref":"refs/heads/main"}`))
	f.Add("s3cret", "", "")
	f.Add("s3cret", "x", "sha256=")
	f.Add("s3cret", "x", "sha1=00")
	f.Add("", "x", sign("", "x"))
	f.Add("k", "body", "sha256=ZZ")
	f.Fuzz(func(t *testing.T, secret, body, header string) {
		dir := t.TempDir()
		file := filepath.Join(dir, "drsync.cue")
		if err := os.WriteFile(file, []byte("package drsync\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		w, err := New(Options{File: file, WorkDir: dir, WebhookSecret: []byte(secret)}, &fakeReconciler{})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewBufferString(body))
		req.Header.Set("X-Hub-Signature-256", header)
		rec := httptest.NewRecorder()
		w.handler().ServeHTTP(rec, req)

		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(body))
		got, decodeErr := hex.DecodeString(header[min(len(header), len("sha256=")):])
		valid := len(header) >= len("sha256=") && header[:len("sha256=")] == "sha256=" && decodeErr == nil && hmac.Equal(got, mac.Sum(nil))

		w.mu.Lock()
		requested := w.pending&checkSource != 0
		w.mu.Unlock()
		switch {
		case valid && (rec.Code != http.StatusAccepted || !requested):
			t.Errorf("a correctly signed hook got %d (fetch requested: %v)", rec.Code, requested)
		case !valid && (rec.Code != http.StatusUnauthorized || requested):
			t.Errorf("header %q got %d (fetch requested: %v), want 401 and no fetch", header, rec.Code, requested)
		}
	})
}
