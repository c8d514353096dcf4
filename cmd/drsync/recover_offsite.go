package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/providers/s3"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/recovery"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
	"github.com/drsync/drsync/target"
)

// recoverOffsiteOptions are recover's flags for off-site copies (runbook
// DR-004: the machine and the drive are gone).
type recoverOffsiteOptions struct {
	fromTarget      string
	allowUnverified bool
	identity        string
}

func addRecoverOffsiteFlags(cmd *cobra.Command, o *recoverOffsiteOptions) {
	f := cmd.Flags()
	f.StringVar(&o.fromTarget, "from-target", "", "recover from the copies on this off-site target (default: off-site copies are used when nothing local or on a present drive is left)")
	f.BoolVar(&o.allowUnverified, "allow-unverified", false, "with no off-site copy known verified (the journal is gone too), take the newest complete one")
	f.StringVar(&o.identity, "identity", "", "age identity file to decrypt S3 copies with (default: the target's identityFile)")
}

// openRecoverTarget opens an off-site target for a recovery, decrypting
// with --identity where given.
func openRecoverTarget(d *schema.Desired, name string, o recoverOffsiteOptions) (target.Target, error) {
	t, err := openTarget(d, name)
	if err != nil {
		return nil, err
	}
	if s3t, ok := t.(*s3.Target); ok && o.identity != "" {
		s3t.UseIdentity(o.identity)
	}
	return t, nil
}

// observeOffsite lists the restorable off-site copies of the subvolumes
// whose recovery needs them (recovery.NeedsOffsite) into in.Offsite and
// returns the targets it opened. A target that cannot be read is a
// warning, unless --from-target named it.
func observeOffsite(ctx context.Context, g *globalOptions, d *schema.Desired, obs *model.Observed, req recovery.Request,
	o recoverOffsiteOptions, in *recovery.Input) (map[string]recovery.OffsiteSource, error) {
	if o.fromTarget != "" {
		if _, ok := d.Targets[o.fromTarget]; !ok {
			return nil, fmt.Errorf("--from-target %s: no such target in %s (declared: %v)", o.fromTarget, g.file, d.TargetNames())
		}
	}
	opened := map[string]recovery.OffsiteSource{}
	failed := map[string]bool{}
	in.Offsite = recovery.OffsiteCopies{}
	for _, name := range req.Names {
		if !recovery.NeedsOffsite(d, obs, name, req) {
			continue
		}
		for _, tname := range d.TargetNames() {
			if _, ok := d.Subvolumes[name].Offsite[tname]; !ok || o.fromTarget != "" && tname != o.fromTarget || failed[tname] {
				continue
			}
			copies, err := listOffsite(ctx, d, tname, name, o, opened)
			if err != nil && o.fromTarget != "" {
				return nil, err
			}
			if err != nil {
				failed[tname] = true
				fmt.Fprintf(g.stderr, "warning: off-site copies on %s not used: %v\n", tname, err)
				continue
			}
			in.Offsite[name] = append(in.Offsite[name], copies...)
		}
	}
	return opened, nil
}

// listOffsite probes a target once (opening it into opened) and lists the
// restorable copies of a subvolume on it.
func listOffsite(ctx context.Context, d *schema.Desired, tname, subvolume string, o recoverOffsiteOptions,
	opened map[string]recovery.OffsiteSource) ([]recovery.OffsiteCopy, error) {
	src, ok := opened[tname]
	if !ok {
		t, err := openRecoverTarget(d, tname, o)
		if err != nil {
			return nil, err
		}
		if err := t.Probe(ctx); err != nil {
			return nil, err
		}
		opened[tname], src = t, t
	}
	list, err := src.(target.Target).List(ctx, subvolume)
	if err != nil {
		return nil, err
	}
	var out []recovery.OffsiteCopy
	for _, c := range list {
		st, ours := snapname.Parse(subvolume, c.Name, time.Local)
		if c.Restorable() && ours {
			out = append(out, recovery.OffsiteCopy{Target: tname, Name: c.Name, Time: st.Time})
		}
	}
	return out, nil
}

// fetchServiceArchives handles the services among names when --from-target
// names an S3 target: the newest archive it holds is downloaded into the
// service's archive directory (the record's SHA-256 of the stored object
// and the archive's own are both checked, and the .sha256 is written
// beside it), where restoring a service reads it. It returns the names
// left to recover.
func fetchServiceArchives(ctx context.Context, g *globalOptions, d *schema.Desired, names []string, o recoverOffsiteOptions) ([]string, error) {
	if o.fromTarget == "" {
		return names, nil
	}
	var rest []string
	for _, name := range names {
		svc := d.Services[name]
		if svc == nil {
			rest = append(rest, name)
			continue
		}
		if _, ok := svc.Offsite[o.fromTarget]; !ok {
			return nil, fmt.Errorf("--from-target %s: service %s does not upload to it", o.fromTarget, name)
		}
		path, err := fetchNewestArchive(ctx, d, svc, o)
		if err != nil {
			return nil, fmt.Errorf("recover %s: %w", name, err)
		}
		fmt.Fprintf(g.stdout, "✓ fetched %s's newest archive from %s: %s (SHA-256 of the stored object and of the archive checked)\n", name, o.fromTarget, path)
	}
	return rest, nil
}

func fetchNewestArchive(ctx context.Context, d *schema.Desired, svc *schema.Service, o recoverOffsiteOptions) (string, error) {
	t, err := openRecoverTarget(d, o.fromTarget, o)
	if err != nil {
		return "", err
	}
	store, ok := t.(*s3.Target)
	if !ok {
		return "", fmt.Errorf("target %s holds no service archives (only s3 targets do)", o.fromTarget)
	}
	copies, _, err := store.Archives(ctx, svc.Name)
	if err != nil {
		return "", err
	}
	newest := ""
	for _, c := range copies {
		if c.Restorable() {
			newest = c.Name
		}
	}
	if newest == "" {
		return "", fmt.Errorf("target %s holds no restorable archive of %s", o.fromTarget, svc.Name)
	}
	dir := d.ArchiveDir(svc)
	if _, err := os.Lstat(filepath.Join(dir, newest)); err == nil {
		return "", fmt.Errorf("%s is here already: nothing to fetch", filepath.Join(dir, newest))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return store.OpenArchive(ctx, svc.Name, newest, dir)
}
