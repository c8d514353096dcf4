package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHomelabDeclaresTheS3Secondary(t *testing.T) {
	chdirRoot(t)
	d, err := Load("examples/desired/homelab.cue", nil)
	if err != nil {
		t.Fatal(err)
	}
	s3, ok := d.Targets["s3-secondary"]
	if !ok {
		t.Fatalf("no s3-secondary target; targets: %v", d.TargetNames())
	}
	// The monitoring design's secondary copy is s3://mcp-backups/monitoring/.
	if s3.Kind != TargetS3 || s3.Bucket != "mcp-backups" || s3.Prefix != "monitoring/" {
		t.Errorf("s3-secondary = %+v, want s3://mcp-backups/monitoring/", s3)
	}
	if s3.Encryption == nil || len(s3.Encryption.Recipients) == 0 || s3.Plaintext != "" {
		t.Errorf("s3-secondary is not encrypted: %+v", s3)
	}
	if s3.FullEvery != 8 || s3.PartSizeMiB != 16 {
		t.Errorf("fullEvery %d, partSizeMiB %d: want 8 and the default 16", s3.FullEvery, s3.PartSizeMiB)
	}
	for _, name := range d.SubvolumeNames() {
		if _, ok := d.Subvolumes[name].Offsite["s3-secondary"]; !ok {
			t.Errorf("subvolume %s does not go off-site", name)
		}
	}
	for _, name := range d.ServiceNames() {
		if _, ok := d.Services[name].Offsite["s3-secondary"]; !ok {
			t.Errorf("service %s does not go off-site", name)
		}
	}
	const recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
	d, err = Load("examples/desired/homelab.cue", []string{"s3_endpoint=http://127.0.0.1:7070", "age_recipient=" + recipient})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Targets["s3-secondary"]; got.Endpoint != "http://127.0.0.1:7070" || got.Encryption.Recipients[0] != recipient {
		t.Errorf("tags did not move the target to a sandbox: %+v", got)
	}
}

const targetsBase = `package drsync
tiers: "1": {rpo: "7d", rto: "1h"}
locations: home: path: "/snap"
subvolumes: home: {tier: "1", source: "/home", snapshots: {location: "home", schedule: "daily 02:00", retention: daily: 7}}
`

func TestTargets(t *testing.T) {
	tests := []struct {
		name string
		cue  string
		want string // "" for valid; else a substring of the error, which must name the file
	}{{
		name: "ssh and s3 targets, named by a subvolume",
		cue: `targets: {
	backuphost: {kind: "ssh", host: "backup.example.net", identityFile: "/etc/drsync/id_ed25519", knownHosts: "/etc/drsync/known_hosts", path: "/srv/drsync", bandwidthLimit: "20M"}
	bucket: {kind: "s3", endpoint: "https://s3.example.net", bucket: "mcp-backups", credentialsFile: "/etc/drsync/s3", encryption: recipients: ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]}
}
subvolumes: home: offsite: {backuphost: {schedule: "daily 03:00", retention: daily: 7}, bucket: {schedule: "weekly sun 04:00", retention: weekly: 4}}`,
	}, {
		name: "an ssh target needs known_hosts: no trust on first use",
		cue:  `targets: b: {kind: "ssh", host: "h", identityFile: "/k", path: "/srv"}`,
		want: "targets.b.knownHosts: incomplete value",
	}, {
		name: "an s3 target without encryption is refused",
		cue:  `targets: b: {kind: "s3", endpoint: "http://127.0.0.1:9000", bucket: "bkt", credentialsFile: "/c"}`,
		want: `targets.b: s3 target without encryption: declare encryption: recipients: ["age1…"], or plaintext: "I accept plaintext off-site"`,
	}, {
		name: "plaintext only in so many words",
		cue:  `targets: b: {kind: "s3", endpoint: "http://127.0.0.1:9000", bucket: "bkt", credentialsFile: "/c", plaintext: "yes"}`,
		want: "targets.b.plaintext",
	}, {
		name: "plaintext in so many words",
		cue:  `targets: b: {kind: "s3", endpoint: "http://127.0.0.1:9000", bucket: "bkt", credentialsFile: "/c", plaintext: "I accept plaintext off-site"}`,
	}, {
		name: "a recipient must be an age public key",
		cue:  `targets: b: {kind: "s3", endpoint: "http://127.0.0.1:9000", bucket: "bkt", credentialsFile: "/c", encryption: recipients: ["AGE-SECRET-KEY-1QGR557"]}`,
		want: "targets.b.encryption.recipients.0",
	}, {
		name: "an unknown target is named",
		cue:  `subvolumes: home: offsite: nas: {schedule: "daily 03:00", retention: daily: 7}`,
		want: `subvolumes.home.offsite.nas: unknown target "nas" (declared: none)`,
	}, {
		name: "a service names an unknown target",
		cue: `locations: backups: path: "/var/backups"
services: db: {kind: "sqlite", database: "/db", tier: "1", location: "backups", schedule: "hourly", retention: hourly: 24, offsite: nas: retention: daily: 3}`,
		want: `services.db.offsite.nas: unknown target "nas"`,
	}, {
		name: "archives go to s3, not to an ssh host",
		cue: `locations: backups: path: "/var/backups"
targets: host: {kind: "ssh", host: "h", identityFile: "/k", knownHosts: "/kh", path: "/srv"}
services: db: {kind: "sqlite", database: "/db", tier: "1", location: "backups", schedule: "hourly", retention: hourly: 24, offsite: host: retention: daily: 3}`,
		want: `services.db.offsite.host: target "host" is ssh: it receives snapshots; archives go to an s3 target`,
	}, {
		name: "ssh fields do not belong to s3",
		cue:  `targets: b: {kind: "s3", endpoint: "http://127.0.0.1:9000", bucket: "bkt", credentialsFile: "/c", plaintext: "I accept plaintext off-site", host: "h"}`,
		want: "targets.b.host",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "desired.cue")
			if err := os.WriteFile(file, []byte(targetsBase+tt.cue+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(file, nil)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tt.want == "":
			case err == nil:
				t.Fatalf("loaded without error, want %q", tt.want)
			case !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), file+":"):
				t.Errorf("error %q\nwant it to contain %q and name %s", err, tt.want, file)
			}
		})
	}
}

func TestBandwidthBytes(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "500": 500, "20K": 20 << 10, "20M": 20 << 20, "1G": 1 << 30} {
		if got := (Target{BandwidthLimit: in}).BandwidthBytes(); got != want {
			t.Errorf("BandwidthBytes(%q) = %d, want %d", in, got, want)
		}
	}
}

// Off-site proof cadences: an entry's own, else the tier's; a drill only
// when the entry or the tier asks for one; a bad duration is positioned.
func TestOffsiteProofCadence(t *testing.T) {
	const cue = `targets: {
	host: {kind: "ssh", host: "h", identityFile: "/k", knownHosts: "/kh", path: "/srv"}
	bucket: {kind: "s3", endpoint: "http://127.0.0.1:9000", bucket: "bkt", credentialsFile: "/c", plaintext: "I accept plaintext off-site"}
}
tiers: "2": {rpo: "7d", rto: "1h", restoreTest: every: "14d", drill: every: "60d"}
subvolumes: home: offsite: {
	host: {schedule: "daily 03:00", retention: daily: 7}
	bucket: {schedule: "weekly sun 04:00", retention: weekly: 4, restoreTest: every: "90d", drill: every: "180d"}
}
subvolumes: data: {tier: "2", source: "/data", snapshots: {location: "home", schedule: "daily 02:00", retention: daily: 7}}
subvolumes: data: offsite: host: {schedule: "daily 03:00", retention: daily: 7}
locations: backups: path: "/var/backups"
services: db: {kind: "sqlite", database: "/db", tier: "1", location: "backups", schedule: "hourly", retention: hourly: 24, offsite: bucket: {retention: daily: 3, restoreTest: every: "7d"}}
`
	file := filepath.Join(t.TempDir(), "desired.cue")
	if err := os.WriteFile(file, []byte(targetsBase+cue), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	home, data := d.Subvolumes["home"], d.Subvolumes["data"]
	for _, c := range []struct {
		what      string
		got, want time.Duration
	}{
		{"home on host: tier 1's test default", d.OffsiteTestEvery(home.Tier, home.Offsite["host"].RestoreTest), 30 * day},
		{"home on host: tier 1 has no drill", d.OffsiteDrillEvery(home.Tier, home.Offsite["host"].Drill), 0},
		{"home on bucket: its own test cadence", d.OffsiteTestEvery(home.Tier, home.Offsite["bucket"].RestoreTest), 90 * day},
		{"home on bucket: its own drill", d.OffsiteDrillEvery(home.Tier, home.Offsite["bucket"].Drill), 180 * day},
		{"data on host: tier 2's test", d.OffsiteTestEvery(data.Tier, data.Offsite["host"].RestoreTest), 14 * day},
		{"data on host: tier 2's drill", d.OffsiteDrillEvery(data.Tier, data.Offsite["host"].Drill), 60 * day},
		{"db on bucket: its own", d.OffsiteTestEvery("1", d.Services["db"].Offsite["bucket"].RestoreTest), 7 * day},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}

	bad := strings.Replace(cue, `every: "90d"`, `every: "soon"`, 1)
	if err := os.WriteFile(file, []byte(targetsBase+bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(file, nil); err == nil || !strings.Contains(err.Error(), "subvolumes.home.offsite.bucket.restoreTest.every") {
		t.Errorf("a bad cadence: %v, want it positioned at subvolumes.home.offsite.bucket.restoreTest.every", err)
	}
}
