package verify

import (
	"io/fs"
	"testing"

	"golang.org/x/sys/unix"
)

// TestModeConversionRoundTrips checks stat's mode bits and Go's FileMode
// convert into each other, special bits included, both ways.
func TestModeConversionRoundTrips(t *testing.T) {
	for _, m := range []uint32{0, 0o644, 0o755, 0o777, unix.S_ISUID | 0o755, unix.S_ISGID | 0o2750&0o777, unix.S_ISVTX | 0o777, unix.S_ISUID | unix.S_ISGID | unix.S_ISVTX | 0o700} {
		if got := unixMode(modeOf(m)); got != m {
			t.Errorf("unixMode(modeOf(%#o)) = %#o", m, got)
		}
	}
	if got, want := modeOf(unix.S_ISGID|unix.S_ISVTX|0o640), fs.ModeSetgid|fs.ModeSticky|0o640; got != want {
		t.Errorf("modeOf: got %v, want %v", got, want)
	}
	if got, want := unixMode(fs.ModeSetuid|fs.ModeDir|0o711), uint32(unix.S_ISUID|0o711); got != want {
		t.Errorf("unixMode drops the type and keeps setuid: got %#o, want %#o", got, want)
	}
}
