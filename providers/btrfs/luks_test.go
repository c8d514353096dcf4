package btrfs_test

import (
	"strings"
	"testing"

	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/schema"
)

// TestProbePlaintextLookAlike mounts a plaintext btrfs that carries the
// drive's filesystem UUID (anyone can read it in the runbooks and make one
// with mkfs.btrfs -U) where the LUKS drive belongs: it is not the drive.
func TestProbePlaintextLookAlike(t *testing.T) {
	mnt := sandbox.TestFS(t, 0)
	uuid, err := btrfs.FilesystemUUID(mnt)
	if err != nil {
		t.Fatal(err)
	}
	m, ok, err := btrfs.MountAt(mnt)
	if err != nil || !ok {
		t.Fatalf("MountAt(%s) = %v, %v", mnt, ok, err)
	}
	// The declared device is a real block device (the look-alike's own loop
	// device, even): what matters is that no dm-crypt mapping is in between.
	loc := schema.Location{External: true, Mount: mnt, UUID: uuid,
		LUKS: &schema.LUKS{Device: m.Source, Mapping: "WD-18TB", Verify: true}}
	d := btrfs.Storage{}.Probe(loc)
	if d.Present || !strings.Contains(d.Reason, "not the declared encrypted device") {
		t.Errorf("plaintext look-alike: %+v, want absent: not the declared encrypted device", d)
	}

	loc.LUKS.Verify = false // a sandbox without dm-crypt turns the check off
	if d := (btrfs.Storage{}).Probe(loc); !d.Present {
		t.Errorf("with the LUKS check off: %+v, want present", d)
	}
	loc.LUKS = nil // a drive declared without LUKS: recognised by its UUID
	if d := (btrfs.Storage{}).Probe(loc); !d.Present || d.UUID != uuid {
		t.Errorf("without luks: %+v, want present", d)
	}
}
