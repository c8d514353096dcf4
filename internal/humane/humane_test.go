package humane

import (
	"testing"
)

func TestFormatters(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Count(1, "entry"), "1 entry"},
		{Count(2, "entry"), "2 entries"},
		{Count(0, "snapshot"), "0 snapshots"},
		{Bytes(512), "512 B"},
		{Bytes(1536), "1.5 KiB"},
		{Bytes(3 << 30), "3.0 GiB"},
		{Rounded(Seconds(1.23456)).String(), "1.235s"},
		{Rounded(Seconds(61.6)).String(), "1m2s"},
		{Seconds(0.5).String(), "500ms"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
