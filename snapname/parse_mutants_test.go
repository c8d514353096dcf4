package snapname

import (
	"testing"
	"time"
)

// TestParseRejectsEachNonDigitField kills the mutants that drop one of the
// digit checks: each field alone is made non-numeric, everything else kept
// valid, so no other check can reject the name in its place (home.XXXX0101
// was once read as the year 0000).
func TestParseRejectsEachNonDigitField(t *testing.T) {
	for _, entry := range []string{
		"home.XXXX0101",
		"home.2025XX01",
		"home.202501XX",
		"home.20250101TXX00",
		"home.20250101T12XX",
		"home.20250101T1200XX+0100",
		"home.20250101T120000+XX00",
		"home.20250101T120000+01XX",
		"home.20250101T1200_X",
	} {
		if st, ok := Parse("home", entry, time.UTC); ok {
			t.Errorf("%s accepted as %v", entry, st.Time)
		}
	}
	if _, ok := Parse("home", "home.20250101T120000+0100", time.UTC); !ok {
		t.Error("the valid form of these names is rejected")
	}
}

// TestParseShortOffsetsDoNotPanic: every truncation of a long-iso offset is
// rejected, never indexed past its end (home.20250101T120000+ panicked
// under a mutant of the offset's length check).
func TestParseShortOffsetsDoNotPanic(t *testing.T) {
	full := "home.20250101T120000+0100"
	for n := len("home.20250101T120000"); n < len(full); n++ {
		for _, sign := range []string{"+", "-"} {
			entry := full[:n]
			if n > len("home.20250101T120000") {
				entry = full[:len("home.20250101T120000")] + sign + full[len("home.20250101T120000+"):n]
			}
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s: panic %v", entry, r)
					}
				}()
				if _, ok := Parse("home", entry, time.UTC); ok {
					t.Errorf("%s accepted", entry)
				}
			}()
		}
	}
}
