package rehearse

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/recovery"
	"github.com/drsync/drsync/render/runbook"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
)

// loss rehearses the loss of whole subvolumes (DR-001, DR-002, DR-004):
// the sources the runbook restores and their local snapshots are
// destroyed (for DR-004 the drive's replicas too), the runbook's commands
// run, and each subvolume must come back equal to its newest replica.
func (r *run) loss(ctx context.Context, d *schema.Desired, commands [][]string) (int64, string, error) {
	lost := runbook.Subvolumes(d, r.o.Runbook)
	if len(lost) == 0 {
		return 0, "", fmt.Errorf("%s restores no subvolume of this desired state: there is nothing to rehearse", r.o.Runbook)
	}
	total := r.o.Runbook == "DR-004"
	// What each subvolume must come back as: its newest replica, which in
	// a sandbox just applied is also its newest verified copy.
	want := map[string]digest{}
	for _, name := range lost {
		copyPath, err := r.newestReplica(d, name)
		if err != nil {
			return 0, "", err
		}
		if copyPath == "" {
			continue // the runbook says it is lost; so will the check below
		}
		if want[name], err = treeDigest(copyPath, recovery.SnapshotDirsInside(d, d.Subvolumes[name].Source)); err != nil {
			return 0, "", err
		}
	}
	what := "the sources of %s and their local snapshots are destroyed"
	if total {
		what = "the sources of %s, their local snapshots and their replicas on the drive are destroyed"
	}
	fmt.Fprintf(r.env.Stdout, "\n== %s: the disaster: "+what+"\n", r.o.Runbook, strings.Join(lost, ", "))
	spared, err := r.destroy(ctx, d, lost, total)
	if err != nil {
		return 0, "", fmt.Errorf("staging the disaster: %w", err)
	}
	targets := map[string]string{} // subvolume → where the runbook recovers it
	for _, c := range commands {
		names, to, verifyOnly := recoverArgs(c)
		if verifyOnly {
			continue
		}
		for _, name := range names {
			targets[name] = recovery.TargetPath(d, name, to)
		}
		// "Mount the new root filesystem at /mnt/newroot first": in the
		// sandbox, a directory on its system filesystem.
		if to != "" {
			if err := os.MkdirAll(to, 0o755); err != nil {
				return 0, "", err
			}
		}
	}
	var missing []string
	for _, name := range lost {
		if _, ok := targets[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		why := "the runbook has no drsync recover command for " + strings.Join(missing, ", ")
		if total {
			why += ": without an off-site copy a total loss is not recoverable (DR-004 says so)"
		}
		return 0, "", fmt.Errorf("%s", why)
	}
	// Each recovered tree is summed as soon as its recover command is
	// done: later commands (a test rewriting the runbooks in a source)
	// may change it legitimately.
	recovered := map[string]digest{}
	sum := func(args []string) error {
		names, _, verifyOnly := recoverArgs(append([]string{"drsync"}, args...))
		if verifyOnly {
			return nil
		}
		for _, name := range names {
			got, err := treeDigest(targets[name], recovery.SnapshotDirsInside(d, d.Subvolumes[name].Source))
			if err != nil {
				return fmt.Errorf("%s was not recovered: %w", name, err)
			}
			recovered[name] = got
		}
		return nil
	}
	if err := r.runCommands(commands, nil, sum); err != nil {
		return 0, "", err
	}
	var compared int64
	var inPlace, moved []string
	for _, name := range lost {
		got := recovered[name]
		w, ok := want[name]
		if !ok {
			return 0, "", fmt.Errorf("%s: no replica to compare with", name)
		}
		if got.Sum != w.Sum {
			return 0, "", fmt.Errorf("%s at %s differs from its newest replica (%d entries, %s, against %d, %s)",
				name, targets[name], got.Entries, humane.Bytes(got.Bytes), w.Entries, humane.Bytes(w.Bytes))
		}
		compared += got.Bytes
		if targets[name] == d.Subvolumes[name].Source {
			inPlace = append(inPlace, name)
		} else {
			moved = append(moved, name)
		}
	}
	if err := r.checkIncremental(inPlace); err != nil {
		return compared, "", err
	}
	picks, err := verifiedArchives(d, d.ServicesIn(lost), lost)
	if err != nil {
		return compared, "", err
	}
	if r.services, err = r.checkServices(ctx, d, picks); err != nil {
		return compared, "", err
	}
	detail := fmt.Sprintf("%s (%s) recovered, %s equal to their newest replicas", humane.Count(len(lost), "subvolume"),
		strings.Join(lost, ", "), humane.Bytes(compared))
	if len(inPlace) > 0 {
		detail += "; next sends incremental for " + strings.Join(inPlace, ", ")
	}
	if len(moved) > 0 {
		detail += "; " + strings.Join(moved, ", ") + " recovered --to a new root, which a sandbox cannot boot: its next send is not checked"
	}
	return compared, detail + servicesSummary(r.services) + spared, nil
}

// checkIncremental asks the recovery checklist whether each subvolume's
// next send to the drive is incremental.
func (r *run) checkIncremental(names []string) error {
	if len(names) == 0 {
		return nil
	}
	var out bytes.Buffer
	args := append(append([]string{"recover", "--verify-only", "--json"}, names...), r.flags...)
	// The checklist exits 1 when any check fails; the incremental one is
	// what counts here, so its result is read either way.
	runErr := r.env.Drsync(&out, args...)
	var lists []recovery.Checklist
	if err := json.Unmarshal(out.Bytes(), &lists); err != nil {
		return fmt.Errorf("the recovery checklist: %v (%v)", err, runErr)
	}
	for _, l := range lists {
		for _, c := range l.Checks {
			if c.Name == recovery.CheckIncremental && c.Result != "pass" {
				return fmt.Errorf("%s: the next send is not incremental: %s", l.Subvolume, c.Detail)
			}
		}
	}
	return nil
}

// deletion rehearses DR-003: a file is deleted from a source, and the
// runbook's find and restore commands must bring it back, byte for byte.
func (r *run) deletion(_ context.Context, d *schema.Desired, commands [][]string) (int64, string, error) {
	lost, err := pickFile(d)
	if err != nil {
		return 0, "", err
	}
	sum, size, err := fileSum(lost)
	if err != nil {
		return 0, "", err
	}
	fmt.Fprintf(r.env.Stdout, "\n== %s: the disaster: %s is deleted\n", r.o.Runbook, lost)
	if err := os.Remove(lost); err != nil {
		return 0, "", fmt.Errorf("staging the disaster: %w", err)
	}
	// The variables the runbook tells the reader to set: the lost path,
	// and after find, the newest snapshot holding it.
	vars := map[string]string{"LOST": lost, "LOST_DIR": filepath.Dir(lost)}
	found := func(args []string) error {
		if args[0] != "find" {
			return nil
		}
		var out bytes.Buffer
		if err := r.env.Drsync(&out, append(append([]string{"find", "--json"}, args[1:]...), r.flags...)...); err != nil {
			return fmt.Errorf("drsync find --json: %w", err)
		}
		snap, err := newestHolding(out.Bytes())
		if err != nil {
			return err
		}
		vars["SNAP"] = snap
		return nil
	}
	if err := r.runCommands(commands, vars, found); err != nil {
		return 0, "", err
	}
	got, _, err := fileSum(lost)
	if err != nil {
		return 0, "", fmt.Errorf("%s was not restored in place: %w", lost, err)
	}
	if got != sum {
		return 0, "", fmt.Errorf("%s was restored with other content (SHA-256 %s, was %s)", lost, got, sum)
	}
	return size, fmt.Sprintf("%s restored from %s, its content equal to the deleted file's (%s)", lost, vars["SNAP"], humane.Bytes(size)), nil
}

// newestHolding reads drsync find --json and returns the newest snapshot
// holding the path: the copy the runbook tells the reader to take.
func newestHolding(findJSON []byte) (string, error) {
	var found []struct {
		Copies []struct {
			Snapshot string `json:"snapshot"`
		} `json:"copies"`
	}
	if err := json.Unmarshal(findJSON, &found); err != nil {
		return "", fmt.Errorf("drsync find --json: %w", err)
	}
	newest := ""
	for _, f := range found {
		for _, c := range f.Copies {
			newest = max(newest, c.Snapshot) // names of one subvolume sort by time
		}
	}
	if newest == "" {
		return "", fmt.Errorf("drsync find: no snapshot holds the deleted file")
	}
	return newest, nil
}

// pickFile chooses the file DR-003 deletes: the first non-empty regular
// file, in path order, of the first subvolume (by name) that is not the
// sandbox's own root, outside snapshot directories.
func pickFile(d *schema.Desired) (string, error) {
	for _, name := range d.SubvolumeNames() {
		s := d.Subvolumes[name]
		if s.Source == filepath.Join("/", d.Root) {
			continue
		}
		skip := recovery.SnapshotDirsInside(d, d.Subvolumes[name].Source)
		picked := ""
		err := filepath.WalkDir(s.Source, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if rel, _ := filepath.Rel(s.Source, path); slices.Contains(skip, rel) {
				return fs.SkipDir
			}
			if info, err := e.Info(); err == nil && info.Mode().IsRegular() && info.Size() > 0 {
				picked = path
				return fs.SkipAll
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		if picked != "" {
			return picked, nil
		}
	}
	return "", fmt.Errorf("no subvolume holds a file to delete")
}

// recoverArgs reads a runbook command: the subvolumes a drsync recover
// names, its --to, and whether it only verifies.
func recoverArgs(c []string) (names []string, to string, verifyOnly bool) {
	if len(c) < 2 || c[1] != "recover" {
		return nil, "", true
	}
	withValue := map[string]bool{"-f": true, "-t": true, "--to": true, "--from": true, "--at": true, "--now": true, "--storage": true}
	for i := 2; i < len(c); i++ {
		switch a := c[i]; {
		case a == "--verify-only":
			verifyOnly = true
		case a == "--to" && i+1 < len(c):
			to = c[i+1]
			i++
		case withValue[a]:
			i++
		case !strings.HasPrefix(a, "-"):
			names = append(names, a)
		}
	}
	return names, to, verifyOnly
}

// newestReplica is the path of the newest replica of a subvolume on its
// drive; empty when it has no drive or none there.
func (r *run) newestReplica(d *schema.Desired, name string) (string, error) {
	s := d.Subvolumes[name]
	if s.External == nil {
		return "", nil
	}
	dir := d.SnapshotDir(s.External.Location, name)
	entries, err := r.env.Storage.List(dir)
	if err != nil {
		return "", err
	}
	var newest string
	var at snapname.Stamp
	for _, e := range entries {
		if st, ok := snapname.Parse(name, e.Name, time.Local); ok && e.Subvolume && (newest == "" || snapname.Less(at, st)) {
			newest, at = e.Name, st
		}
	}
	if newest == "" {
		return "", nil
	}
	return filepath.Join(dir, newest), nil
}

// destroy stages the loss of each named subvolume: its local snapshots,
// and with replicas its copies on the drive, then its source (snapshot
// directories may lie inside sources, so every snapshot goes first). A
// source that is the sandbox's root holds the sandbox itself and stays:
// it says so.
func (r *run) destroy(ctx context.Context, d *schema.Desired, names []string, replicas bool) (string, error) {
	for _, name := range names {
		s := d.Subvolumes[name]
		dirs := []string{d.SnapshotDir(s.Snapshots.Location, name)}
		if replicas && s.External != nil {
			dirs = append(dirs, d.SnapshotDir(s.External.Location, name))
		}
		for _, dir := range dirs {
			entries, err := r.env.Storage.List(dir)
			if err != nil {
				return "", err
			}
			for _, e := range entries {
				if e.Subvolume && strings.HasPrefix(e.Name, name+".") {
					if err := r.env.Storage.Delete(ctx, filepath.Join(dir, e.Name)); err != nil {
						return "", err
					}
				}
			}
		}
	}
	spared := ""
	for _, name := range names {
		s := d.Subvolumes[name]
		if s.Source == filepath.Join("/", d.Root) {
			spared = fmt.Sprintf("; the source of %s is the sandbox's own root, which stands in for the live system and was not destroyed", name)
			continue
		}
		if err := r.env.Storage.Delete(ctx, s.Source); err != nil {
			return "", err
		}
	}
	return spared, nil
}
