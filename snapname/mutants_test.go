package snapname

import (
	"testing"
	"time"
)

// These tests pin rules that mutation testing (make mutate) found no test
// for, each alone: the case that was meant to cover it was also rejected by
// another check, so deleting the rule changed nothing.

// TestMutantEachDigitFieldIsChecked: every field must be digits on its own;
// "XXXX" read as year 0000 (a name btrbk never accepts) would make a foreign
// entry a snapshot from 2,000 years ago, the first to be pruned.
func TestMutantEachDigitFieldIsChecked(t *testing.T) {
	for _, name := range []string{
		"home.XXXX0101",             // year
		"home.2025+101",             // month: "+1" would parse as 1
		"home.202501+1",             // day
		"home.20250101T+100",        // hour
		"home.20250101T12+1",        // minute
		"home.20250101T1200+1+0100", // second
		"home.20250101T120000++100", // offset hours
		"home.20250101T120000+01+1", // offset minutes
		"home.20250101T1200_+1",     // _N
		"home.20250101T1200_",       // empty _N
	} {
		if st, ok := Parse("home", name, time.UTC); ok {
			t.Errorf("Parse(%q) accepted it as %v", name, st.Time)
		}
	}
}

// TestMutantTruncatedOffsetIsRejected: a name cut after the offset's sign
// (or anywhere in it) is foreign, and must not crash the parser.
func TestMutantTruncatedOffsetIsRejected(t *testing.T) {
	for _, name := range []string{"home.20250101T120000+", "home.20250101T120000+0", "home.20250101T120000+01", "home.20250101T120000+010", "home.20250101T120000-"} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("Parse(%q) panicked: %v", name, r)
				}
			}()
			if _, ok := Parse("home", name, time.UTC); ok {
				t.Errorf("Parse(%q) accepted a truncated offset", name)
			}
		}()
	}
}

// TestMutantLessIsStrict: equal stamps are not less than each other, or
// sorting and "newest" would depend on the order names were listed in.
func TestMutantLessIsStrict(t *testing.T) {
	at := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range []Stamp{{Time: at}, {Time: at, Seq: 2}} {
		if Less(s, s) {
			t.Errorf("Less(%+v, itself) = true", s)
		}
	}
	if !Less(Stamp{Time: at, Seq: 1}, Stamp{Time: at, Seq: 2}) || Less(Stamp{Time: at, Seq: 2}, Stamp{Time: at, Seq: 1}) {
		t.Error("Seq does not order equal times")
	}
	if !Less(Stamp{Time: at, Seq: 9}, Stamp{Time: at.Add(time.Second)}) {
		t.Error("Seq outranks time")
	}
}
