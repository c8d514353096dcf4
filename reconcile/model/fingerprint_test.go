package model

import (
	"reflect"
	"testing"
	"time"
)

// TestFingerprintCoversEverySnapshotField: the fingerprint hashes snapshots
// field by field, so a change to any field must change it, and a field
// added to Snapshot must be added to appendSnapshots (this test counts them).
func TestFingerprintCoversEverySnapshotField(t *testing.T) {
	if n := reflect.TypeFor[Snapshot]().NumField(); n != 8 {
		t.Fatalf("Snapshot has %d fields; hash the new ones in appendSnapshots, then update this count", n)
	}
	base := Snapshot{Name: "home.20250102T0300", Time: time.Date(2025, 1, 2, 3, 0, 0, 0, time.UTC), HasTime: true,
		Seq: 1, UUID: "u", ParentUUID: "p", ReceivedUUID: "r", ReadOnly: true}
	observe := func(local, external []Snapshot) *Observed {
		return &Observed{Subvolumes: map[string]*SubvolumeState{"home": {Local: local, External: external}}}
	}
	want := observe([]Snapshot{base}, nil).Fingerprint()
	if again := observe([]Snapshot{base}, nil).Fingerprint(); again != want {
		t.Fatalf("same observation, fingerprints %s and %s", want, again)
	}
	changes := map[string]func(*Snapshot){
		"name":         func(s *Snapshot) { s.Name += "x" },
		"time":         func(s *Snapshot) { s.Time = s.Time.Add(time.Nanosecond) },
		"hasTime":      func(s *Snapshot) { s.HasTime = false },
		"seq":          func(s *Snapshot) { s.Seq = 2 },
		"uuid":         func(s *Snapshot) { s.UUID = "v" },
		"parentUUID":   func(s *Snapshot) { s.ParentUUID = "q" },
		"receivedUUID": func(s *Snapshot) { s.ReceivedUUID = "" },
		"readOnly":     func(s *Snapshot) { s.ReadOnly = false },
	}
	for field, change := range changes {
		s := base
		change(&s)
		if got := observe([]Snapshot{s}, nil).Fingerprint(); got == want {
			t.Errorf("changing %s left the fingerprint %s", field, got)
		}
	}
	if got := observe(nil, []Snapshot{base}).Fingerprint(); got == want {
		t.Error("the same snapshot as a replica instead of a local snapshot left the fingerprint unchanged")
	}
	if got := observe([]Snapshot{base, base}, nil).Fingerprint(); got == want {
		t.Error("a second snapshot left the fingerprint unchanged")
	}
}
