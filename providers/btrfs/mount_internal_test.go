package btrfs

import "testing"

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/mnt/plain`:            "/mnt/plain",
		`/mnt/with\040space`:    "/mnt/with space",
		`/a\011tab\012nl\134bs`: "/a\ttab\nnl\\bs",
		`/trailing\04`:          `/trailing\04`,
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUUIDRoundTrip(t *testing.T) {
	const s = "54e84324-7e8b-eb42-b67a-7b563c66ba39"
	b, err := parseUUID(s)
	if err != nil || formatUUID(b) != s {
		t.Errorf("parse/format %s = %s, %v", s, formatUUID(b), err)
	}
	if formatUUID([16]byte{}) != "" {
		t.Error("zero uuid should format as empty")
	}
	for _, bad := range []string{"", "54e843247e8beb42b67a7b563c66ba39", "54e84324-7e8b-eb42-b67a-7b563c66ba3g"} {
		if _, err := parseUUID(bad); err == nil {
			t.Errorf("parseUUID(%q) accepted", bad)
		}
	}
}
