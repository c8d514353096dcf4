package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"
)

// FuzzVerifyMemberNames extracts archives holding a symlink and then one
// member of any name, type and link target: nothing may be created outside
// scratch (not through "..", an absolute name, or the symlink), Verify must
// not fail to run, and a name that is not a clean relative path must be
// reported: as a path mismatch, or, when tar cannot read the member back,
// with the archive as corrupt (nothing of it was extracted).
func FuzzVerifyMemberNames(f *testing.F) {
	for _, s := range []struct {
		link, name string
		typ        byte
		target     string
	}{
		{"sub", "sub/x", tar.TypeReg, ""},
		{"sub", "../escape", tar.TypeReg, ""},
		{"sub", "/tmp/abs", tar.TypeReg, ""},
		{"sub", "sub/../../escape", tar.TypeDir, ""},
		{"up", "up/escape", tar.TypeReg, ""},
		{"up", "up/x", tar.TypeSymlink, "/"},
		{"ok", "hard", tar.TypeLink, "../outside/file"},
		{"ok", "hard", tar.TypeLink, "ok/file"},
		{"ok", "./a//b", tar.TypeReg, ""},
		{"ok", "a\x00b", tar.TypeReg, ""},
		{"ok", "dev", tar.TypeChar, ""},
		{"ok", "", tar.TypeGNUSparse, ""}, // tar writes it, then cannot read it back
	} {
		f.Add(s.link, s.name, s.typ, s.target)
	}
	f.Fuzz(func(t *testing.T, link, name string, typ byte, target string) {
		jail := t.TempDir()
		outside := filepath.Join(jail, "outside")
		if err := os.Mkdir(outside, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(outside, "file"), []byte("outside"), 0o644); err != nil {
			t.Fatal(err)
		}
		var raw bytes.Buffer
		gz := gzip.NewWriter(&raw)
		tw := tar.NewWriter(gz)
		// A symlink out of scratch first, for the member to try to pass through.
		if err := tw.WriteHeader(&tar.Header{Name: link, Typeflag: tar.TypeSymlink, Linkname: outside, Mode: 0o777}); err != nil {
			return // names tar itself cannot write are no archive at all
		}
		hdr := &tar.Header{Name: name, Typeflag: typ, Linkname: target, Mode: 0o644}
		body := []byte("member")
		if typ == tar.TypeReg {
			hdr.Size = int64(len(body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return
		}
		if typ == tar.TypeReg {
			tw.Write(body)
		}
		if tw.Close() != nil || gz.Close() != nil {
			return
		}
		archivePath := filepath.Join(jail, "a.tar.gz")
		if err := os.WriteFile(archivePath, raw.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		scratch := filepath.Join(jail, "scratch")

		rep, err := Verify(t.Context(), archivePath, scratch)
		if err != nil {
			t.Fatalf("Verify could not run: %v", err)
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 1 {
			t.Errorf("member %q (type %q) wrote into the symlink's target: %v", name, typ, entries)
		}
		if b, _ := os.ReadFile(filepath.Join(outside, "file")); string(b) != "outside" {
			t.Errorf("member %q (type %q) changed a file outside scratch", name, typ)
		}
		entries, _ := os.ReadDir(jail)
		for _, e := range entries {
			if n := e.Name(); n != "outside" && n != "scratch" && n != "a.tar.gz" {
				t.Errorf("member %q (type %q) created %s beside scratch", name, typ, n)
			}
		}
		if !localName(trimSlash(name)) && name != link {
			for _, m := range rep.Mismatches {
				if (m.Path == name && m.Check == "path") || m.Check == "corrupt" {
					return
				}
			}
			t.Errorf("unsafe member name %q not reported as a path mismatch or a corrupt archive: %+v", name, rep.Mismatches)
		}
	})
}

func trimSlash(s string) string {
	for len(s) > 1 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
