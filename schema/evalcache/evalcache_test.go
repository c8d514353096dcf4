package evalcache_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/drsync/drsync/internal/hostile"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/schema/evalcache"
)

func init() { hostile.Serve() }

const repo = "../.."

// counted loads with schema.LoadHost and counts the evaluations.
type counted struct {
	path  string
	tags  []string
	host  string
	calls int
}

func (c *counted) load(t *testing.T) *schema.Desired {
	t.Helper()
	d, err := evalcache.Load(c.path, c.tags, "host="+c.host, func() (*schema.Desired, error) {
		c.calls++
		if c.host == "" {
			return schema.Load(c.path, c.tags)
		}
		return schema.LoadHost(c.path, c.tags, c.host)
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// copyFile copies a desired state into a fresh directory, to be edited.
func copyFile(t *testing.T, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// A cached desired state must be the evaluated one, field for field, for
// every desired state the repository holds: a field JSON loses would make
// a cached plan differ from an evaluated one. Only an empty map or list
// may come back nil (JSON's omitempty drops it), which reads the same:
// nothing writes into a loaded desired state.
func TestCachedEqualsEvaluated(t *testing.T) {
	t.Setenv("DRSYNC_CACHE", t.TempDir())
	files, err := filepath.Glob(filepath.Join(repo, "testdata/desired/*.cue"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no desired states: %v", err)
	}
	cases := []counted{{path: filepath.Join(repo, "examples/desired/homelab.cue")}}
	for _, f := range files {
		cases = append(cases, counted{path: f, tags: []string{"root=/srv/sandbox"}})
	}
	fleet := filepath.Join(repo, "examples/desired/fleet")
	hosts, err := schema.Hosts(fleet, nil)
	if err != nil || len(hosts) == 0 {
		t.Fatalf("fleet hosts: %v %v", hosts, err)
	}
	for _, h := range hosts {
		cases = append(cases, counted{path: fleet, host: h})
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.path)+c.host, func(t *testing.T) {
			evaluated := c.load(t)
			cached := c.load(t)
			if c.calls != 1 {
				t.Fatalf("evaluated %d times, want once (the second load from the cache)", c.calls)
			}
			if diff := cmp.Diff(evaluated, cached, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("cached desired state differs from the evaluated one (-evaluated +cached):\n%s", diff)
			}
			if cached.Source != c.path {
				t.Errorf("Source = %q, want %q", cached.Source, c.path)
			}
		})
	}
}

// Whatever an evaluation depends on, changing it evaluates again.
func TestKeyCoversInputs(t *testing.T) {
	t.Setenv("DRSYNC_CACHE", t.TempDir())
	c := &counted{path: copyFile(t, filepath.Join(repo, "testdata/desired/small.cue")), tags: []string{"root=/a"}}
	first := c.load(t)
	c.load(t)
	if c.calls != 1 {
		t.Fatalf("unchanged inputs evaluated %d times, want 1", c.calls)
	}
	c.tags = []string{"root=/b"}
	if d := c.load(t); c.calls != 2 || d.StateDir != "/b/state" {
		t.Fatalf("new tag: %d evaluations, stateDir %s; want 2, /b/state", c.calls, d.StateDir)
	}
	c.tags = []string{"root=/a"}
	b, err := os.ReadFile(c.path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), `stateDir: "\(root)/state"`, `stateDir: "\(root)/elsewhere"`, 1)
	if edited == string(b) {
		t.Fatal("the edit matched nothing")
	}
	if err := os.WriteFile(c.path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if d := c.load(t); c.calls != 3 || d.StateDir != "/a/elsewhere" || first.StateDir != "/a/state" {
		t.Fatalf("edited file: %d evaluations, stateDir %s; want 3, /a/elsewhere", c.calls, d.StateDir)
	}
	if _, err := evalcache.Load(c.path, c.tags, "host=other", func() (*schema.Desired, error) {
		c.calls++
		return schema.Load(c.path, c.tags)
	}); err != nil || c.calls != 4 {
		t.Fatalf("another host: %d evaluations (%v), want 4", c.calls, err)
	}
}

// Errors are not cached, and the cache can be turned off.
func TestErrorsAndOff(t *testing.T) {
	t.Setenv("DRSYNC_CACHE", t.TempDir())
	path := filepath.Join(repo, "testdata/invalid/unknown-tier.cue")
	for range 2 {
		if _, err := evalcache.Load(path, nil, "", func() (*schema.Desired, error) { return schema.Load(path, nil) }); err == nil {
			t.Fatal("an invalid desired state loaded")
		}
	}
	t.Setenv("DRSYNC_CACHE", "off")
	c := &counted{path: filepath.Join(repo, "examples/desired/homelab.cue")}
	c.load(t)
	c.load(t)
	if c.calls != 2 {
		t.Fatalf("DRSYNC_CACHE=off: %d evaluations, want 2", c.calls)
	}
}

// Files whose value depends on more than their text are never cached.
func TestImportsAndEmbeds(t *testing.T) {
	t.Setenv("DRSYNC_CACHE", t.TempDir())
	for name, header := range map[string]string{
		"stdlib":   `import "strings"` + "\n_up: strings.ToUpper(\"x\")\n",
		"module":   `import "example.com/policy"` + "\n",
		"embedded": `_f: _ @embed(file="x.json")` + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(repo, "testdata/desired/small.cue"))
			if err != nil {
				t.Fatal(err)
			}
			src := strings.Replace(string(b), "package drsync\n", "package drsync\n\n"+header, 1)
			path := filepath.Join(t.TempDir(), "d.cue")
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			calls := 0
			for range 2 {
				evalcache.Load(path, []string{"root=/a"}, "", func() (*schema.Desired, error) {
					calls++
					return schema.Load(path, []string{"root=/a"})
				})
			}
			want := 2
			if name == "stdlib" {
				want = 1
			}
			if calls != want {
				t.Errorf("%d evaluations, want %d", calls, want)
			}
		})
	}
}

// tampered is what an attacker wants root to plan: a cache entry for the
// file whose desired state points drsync's state somewhere else.
func tampered(t *testing.T, entry string) []byte {
	t.Helper()
	b, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	e["desired"].(map[string]any)["stateDir"] = "/tmp/attacker"
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// onlyEntry is the one entry in dir.
func onlyEntry(t *testing.T, dir string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(m) != 1 {
		t.Fatalf("entries in %s: %v %v", dir, m, err)
	}
	return m[0]
}

// Root with a cache directory another user controls (HOME kept by sudo,
// a shared DRSYNC_CACHE) must not take its desired state from that user's
// entries, nor from an entry that is not root's own inside its directory.
func TestRefusesEntriesOthersControl(t *testing.T) {
	u := hostile.NewUser(t)
	path := copyFile(t, filepath.Join(repo, "testdata/desired/small.cue"))
	tags := []string{"root=/a"}
	evaluate := func() (*schema.Desired, error) { return schema.Load(path, tags) }

	// Root's own entry, to learn its name and content.
	own := filepath.Join(t.TempDir(), "root-cache")
	t.Setenv("DRSYNC_CACHE", own)
	if _, err := evalcache.Load(path, tags, "", evaluate); err != nil {
		t.Fatal(err)
	}
	entry := onlyEntry(t, own)
	evil := tampered(t, entry)

	check := func(t *testing.T, dir string) {
		t.Helper()
		t.Setenv("DRSYNC_CACHE", dir)
		d, err := evalcache.Load(path, tags, "", evaluate)
		if err != nil {
			t.Fatal(err)
		}
		if d.StateDir != "/a/state" {
			t.Fatalf("loaded stateDir %s from a planted entry, want /a/state", d.StateDir)
		}
	}

	t.Run("directory of another user", func(t *testing.T) {
		base := t.TempDir()
		hostile.Reachable(t, base)
		dir := filepath.Join(base, "cache")
		if err := os.WriteFile(filepath.Join(base, "evil"), evil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(base, 0o777); err != nil {
			t.Fatal(err)
		}
		u.Sh(t, "mkdir -m 700 "+dir+" && cp "+filepath.Join(base, "evil")+" "+filepath.Join(dir, filepath.Base(entry))+" && chmod 600 "+filepath.Join(dir, "*"))
		check(t, dir)
		if b, _ := os.ReadFile(filepath.Join(dir, filepath.Base(entry))); string(b) != string(evil) {
			t.Error("root wrote into the other user's cache directory")
		}
	})
	// rootsDir is a cache directory of root's own, 0700, and the path of
	// the entry's name in it.
	rootsDir := func(t *testing.T) (dir, planted string) {
		dir = filepath.Join(t.TempDir(), "cache")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		return dir, filepath.Join(dir, filepath.Base(entry))
	}
	t.Run("entry of another user", func(t *testing.T) {
		dir, planted := rootsDir(t)
		if err := os.WriteFile(planted, evil, 0o600); err != nil {
			t.Fatal(err)
		}
		u.Own(t, planted)
		check(t, dir)
	})
	t.Run("entry writable by others", func(t *testing.T) {
		dir, planted := rootsDir(t)
		if err := os.WriteFile(planted, evil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(planted, 0o666); err != nil {
			t.Fatal(err)
		}
		check(t, dir)
	})
	t.Run("entry a symlink", func(t *testing.T) {
		dir, planted := rootsDir(t)
		target := filepath.Join(t.TempDir(), "evil.json")
		if err := os.WriteFile(target, evil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, planted); err != nil {
			t.Fatal(err)
		}
		check(t, dir)
	})
	// The planted entry really matches: root's own directory holding it
	// does load it (so the refusals above are the ownership checks).
	t.Run("control", func(t *testing.T) {
		if err := os.WriteFile(entry, evil, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("DRSYNC_CACHE", own)
		d, err := evalcache.Load(path, tags, "", evaluate)
		if err != nil {
			t.Fatal(err)
		}
		if d.StateDir != "/tmp/attacker" {
			t.Fatalf("root's own entry not used (stateDir %s): the tests above prove nothing", d.StateDir)
		}
	})
}

// A file edited while it is evaluated is not cached under the content
// hashed before: put back, it is evaluated again rather than answered with
// the edit's desired state.
func TestEditDuringEvaluationIsNotCached(t *testing.T) {
	t.Setenv("DRSYNC_CACHE", t.TempDir())
	path := copyFile(t, filepath.Join(repo, "testdata/desired/small.cue"))
	original, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(original), `stateDir: "\(root)/state"`, `stateDir: "\(root)/edited"`, 1)
	tags := []string{"root=/a"}
	d, err := evalcache.Load(path, tags, "", func() (*schema.Desired, error) {
		if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
			return nil, err
		}
		return schema.Load(path, tags)
	})
	if err != nil || d.StateDir != "/a/edited" {
		t.Fatalf("load during the edit: %v, stateDir %v", err, d)
	}
	if err := os.WriteFile(path, original, 0o644); err != nil {
		t.Fatal(err)
	}
	calls := 0
	d, err = evalcache.Load(path, tags, "", func() (*schema.Desired, error) { calls++; return schema.Load(path, tags) })
	if err != nil || calls != 1 || d.StateDir != "/a/state" {
		t.Fatalf("after putting the file back: %d evaluations, stateDir %s (%v); want 1, /a/state", calls, d.StateDir, err)
	}
}
