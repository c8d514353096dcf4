// Package session is what every command acts through, built from the flags
// they share: the desired state of this host, the storage provider, the
// environment a reconcile runs in, the observation of the machine and the
// off-site targets.
package session

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/drsync/drsync/notify"
	"github.com/drsync/drsync/prove"
	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/providers/dirfs"
	"github.com/drsync/drsync/providers/s3"
	"github.com/drsync/drsync/providers/services"
	"github.com/drsync/drsync/providers/ssh"
	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner"
	"github.com/drsync/drsync/render"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/schema/evalcache"
	"github.com/drsync/drsync/target"
)

// Options are the flags every command shares.
type Options struct {
	// File is the desired-state file, or a directory of one CUE package.
	File string
	// Tags are injected CUE tags, key=value.
	Tags []string
	// Host names this machine's part of a fleet file ("": its hostname).
	Host string
	// Storage names the storage provider: btrfs, or dir.
	Storage string
}

// Load loads the desired state of File with Tags for this host.
func (o Options) Load() (*schema.Desired, error) { return o.LoadFrom(o.File, o.Tags) }

// LoadFrom loads the desired state at path for this machine: in a fleet
// file (one that declares hosts), the part of the host Host names, or else
// of this machine's hostname.
// An evaluation of unchanged files comes from the cache (package
// evalcache).
func (o Options) LoadFrom(path string, tags []string) (*schema.Desired, error) {
	forHost := "host=" + o.Host
	if o.Host == "" {
		// A fleet file's part is chosen by the hostname.
		name, err := os.Hostname()
		if err != nil {
			return o.evaluate(path, tags)
		}
		forHost = "hostname=" + name
	}
	return evalcache.Load(path, tags, forHost, func() (*schema.Desired, error) { return o.evaluate(path, tags) })
}

// evaluate is LoadFrom without the cache.
func (o Options) evaluate(path string, tags []string) (*schema.Desired, error) {
	host := o.Host
	if host == "" {
		hosts, err := schema.Hosts(path, tags)
		if err != nil {
			return nil, err
		}
		if hosts == nil {
			return schema.Load(path, tags)
		}
		if host, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("%s declares hosts: name this one with --host (its hostname is unknown: %w)", path, err)
		}
	}
	return schema.LoadHost(path, tags, host)
}

// NewStorage is the storage provider Storage names.
func (o Options) NewStorage() (model.Storage, error) {
	switch o.Storage {
	case "btrfs":
		return btrfs.Storage{}, nil
	case "dir":
		return dirfs.Storage{}, nil
	}
	return nil, fmt.Errorf("--storage %q: want btrfs or dir", o.Storage)
}

// Env is what an apply, test or drill of d acts through.
func (o Options) Env(d *schema.Desired) (reconcile.Env, error) {
	st, err := o.NewStorage()
	if err != nil {
		return reconcile.Env{}, err
	}
	j, err := journal.OpenJournal(d.StateDir)
	if err != nil {
		return reconcile.Env{}, err
	}
	return reconcile.Env{Storage: st, Services: services.Store{}, Prover: prove.New(st, d), Journal: j, Desired: d, Pings: notify.FromDesired(d),
		Targets: func(name string) (target.Target, error) { return OpenTarget(d, name) }}, nil
}

// Observe observes the machine for d, in now's time zone.
func (o Options) Observe(d *schema.Desired, now time.Time) (*model.Observed, error) {
	env, err := o.Env(d)
	if err != nil {
		return nil, err
	}
	return reconcile.Observe(d, env, now.Location())
}

// LoadObserved loads the desired state and observes the machine now.
func (o Options) LoadObserved() (*schema.Desired, *model.Observed, time.Time, error) {
	d, err := o.Load()
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	now := time.Now()
	obs, err := o.Observe(d, now)
	return d, obs, now, err
}

// Metrics serves d's backup metrics, observed at scrape time so ages are
// current.
func (o Options) Metrics(d *schema.Desired) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		now := time.Now()
		obs, err := o.Observe(d, now)
		if err != nil {
			return nil, err
		}
		reg, err := render.Registry(planner.RenderInput(d, obs, now))
		if err != nil {
			return nil, err
		}
		return reg.Gather()
	})
}

// ReadObserved reads an observation saved by `drsync observe`.
func ReadObserved(path string) (*model.Observed, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("observation: %w", err)
	}
	var o model.Observed
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("%s: not an observation: %w", path, err)
	}
	return &o, nil
}

// OpenTarget connects to a declared off-site target.
func OpenTarget(d *schema.Desired, name string) (target.Target, error) {
	t := d.Targets[name]
	switch t.Kind {
	case schema.TargetSSH:
		return ssh.New(name, t), nil
	case schema.TargetS3:
		return s3.New(name, t)
	}
	return nil, fmt.Errorf("target %s: unknown kind %q", name, t.Kind)
}
