package recovery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/drsync/drsync/providers/sqlite"
	"github.com/drsync/drsync/recovery/svcrestore"
	"github.com/drsync/drsync/schema"
)

// The steps of a service's recovery, beside StepFetch, StepKeepAside and
// StepPlace.
const (
	StepRestore  Step = "restore"  // the archive verified and restored beside the live data
	StepStop     Step = "stop"     // the service stopped
	StepStart    Step = "start"    // the service started on the restored data
	StepReady    Step = "ready"    // the service answers from the restored data
	StepRollback Step = "rollback" // readiness failed: the kept-aside data back, the service restarted
)

// FailedRecoverInfix names where a restored copy that failed readiness is
// moved when the kept-aside data goes back: <path>.failed-recover-<time>,
// left for a person to inspect.
const FailedRecoverInfix = ".failed-recover-"

// ServiceResult is one service recovery's outcome.
type ServiceResult struct {
	Service string `json:"service"`
	Archive string `json:"archive"`
	// FetchedFrom names the off-site target the archive was downloaded from.
	FetchedFrom string `json:"fetchedFrom,omitempty"`
	// Before says how the current data looked: for SQLite, its
	// integrity check before anything was changed.
	Before    string   `json:"before,omitempty"`
	KeptAside []string `json:"keptAside,omitempty"`
	Files     int      `json:"files"`
	Bytes     int64    `json:"bytes"`
	// Ready is the readiness check that passed (or last failed).
	Ready string `json:"ready,omitempty"`
	// RolledBack says the kept-aside data was put back after readiness
	// failed; FailedCopies are where the restored copies were moved.
	RolledBack   bool     `json:"rolledBack,omitempty"`
	FailedCopies []string `json:"failedCopies,omitempty"`
	Seconds      float64  `json:"seconds"`
	Error        string   `json:"error,omitempty"`
}

// recoverServices recovers the plan's services in its order, skipping
// those that come after a component whose recovery failed.
func (x *executor) recoverServices(p *Plan) ([]ServiceResult, error) {
	byName := map[string]ServiceRecovery{}
	for _, r := range p.Services {
		byName[r.Service] = r
	}
	var out []ServiceResult
	var errs []error
	for _, name := range p.Order {
		r, ok := byName[name]
		if !ok {
			continue
		}
		start := time.Now()
		var res ServiceResult
		var err error
		if dep := slices.IndexFunc(r.After, func(a string) bool { return x.failed[a] }); dep >= 0 {
			res, err = ServiceResult{Service: r.Service, Archive: r.Archive}, fmt.Errorf("not recovered: it comes after %s, whose recovery failed", r.After[dep])
		} else {
			res, err = x.recoverService(r)
		}
		res.Seconds = time.Since(start).Seconds()
		if err != nil {
			res.Error = err.Error()
			errs = append(errs, fmt.Errorf("recover %s: %w", r.Service, err))
			x.failed[r.Service] = true
		}
		out = append(out, res)
	}
	return out, errors.Join(errs...)
}

func (x *executor) recoverService(r ServiceRecovery) (res ServiceResult, err error) {
	res = ServiceResult{Service: r.Service, Archive: r.Archive}
	c := component{r.Service, r.Location, r.Archive, r.External, r.ArchiveTime}
	var swaps []*svcrestore.Swap
	defer func() {
		for _, s := range swaps {
			s.Close()
		}
	}()
	if r.Offsite != "" {
		err := x.stepOf(c, StepFetch, r.Offsite+":"+r.Archive, r.Copy, "download "+r.Archive+" from "+r.Offsite+" to "+r.Copy, func() error {
			return x.fetchArchive(r)
		})
		if err != nil {
			return res, err
		}
		res.FetchedFrom = r.Offsite
	}
	var restored svcrestore.Restored
	err = x.stepOf(c, StepRestore, r.Copy, r.Targets[0].Path, "verify "+r.Copy+" and restore it beside "+r.Paths(), func() error {
		for i, t := range r.Targets {
			s, err := svcrestore.OpenSwap(t.Path)
			if err != nil {
				return err
			}
			swaps = append(swaps, s)
			got, err := s.Restore(x.ctx, r.Declared, r.Copy)
			if err != nil {
				return err
			}
			if i == 0 {
				restored = got
			}
		}
		res.Files, res.Bytes = restored.Files, restored.Bytes
		if r.Kind == schema.ServiceSQLite && r.Targets[0].State != TargetMissing {
			res.Before = "the current database passes integrity_check"
			if _, err := sqlite.CheckLive(x.ctx, swaps[0].Proc()); err != nil {
				res.Before = "the current database fails: " + swaps[0].Named(err).Error()
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	if len(r.Stop) > 0 {
		if err := x.stepOf(c, StepStop, "", r.Targets[0].Path, strings.Join(r.Stop, " "), func() error { return svcrestore.RunCommand(x.ctx, r.Stop) }); err != nil {
			return res, err
		}
	}
	err = x.swapIn(c, r, swaps, restored, &res)
	if err == nil {
		return res, nil
	}
	rerr := x.stepOf(c, StepRollback, "", r.Targets[0].Path, "put the kept-aside data back and start "+r.Service+" again", func() error {
		return x.rollback(r, swaps, &res)
	})
	if rerr != nil {
		return res, fmt.Errorf("%w; the rollback failed too: %w", err, rerr)
	}
	res.RolledBack = true
	return res, fmt.Errorf("%w; rolled back: the previous data is in place again and the service was started on it", err)
}

// swapIn keeps the current data aside, moves the restored copies in,
// starts the service and waits until it answers from the restored data.
func (x *executor) swapIn(c component, r ServiceRecovery, swaps []*svcrestore.Swap, restored svcrestore.Restored, res *ServiceResult) error {
	aside := PreRecoverInfix + x.stamp
	err := x.stepOf(c, StepKeepAside, "", r.Targets[0].Path, "keep "+r.Paths()+" aside as <path>"+aside, func() error {
		for _, s := range swaps {
			kept, err := s.KeepAside(r.Kind, aside)
			if err != nil {
				return err
			}
			if kept != "" {
				res.KeptAside = append(res.KeptAside, kept)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = x.stepOf(c, StepPlace, r.Copy, r.Targets[0].Path, "move the restored "+r.Kind+" data to "+r.Paths(), func() error {
		for _, s := range swaps {
			if err := s.Place(x.ctx, r.Kind, r.Owner); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(r.Start) > 0 {
		if err := x.stepOf(c, StepStart, "", r.Targets[0].Path, strings.Join(r.Start, " "), func() error { return svcrestore.RunCommand(x.ctx, r.Start) }); err != nil {
			return err
		}
	}
	return x.stepOf(c, StepReady, r.Copy, r.Targets[0].Path, "check "+r.Service+" answers from the restored data", func() error {
		what, err := svcrestore.WaitReady(x.ctx, r.Declared, swaps, restored)
		res.Ready = what
		return err
	})
}

// Paths lists the paths the service's data is restored to.
func (r ServiceRecovery) Paths() string {
	var paths []string
	for _, t := range r.Targets {
		paths = append(paths, t.Path)
	}
	return strings.Join(paths, ", ")
}

// rollback moves the restored copies away (kept for inspection), puts the
// kept-aside data back and starts the service again on it.
func (x *executor) rollback(r ServiceRecovery, swaps []*svcrestore.Swap, res *ServiceResult) error {
	ctx := context.WithoutCancel(x.ctx)
	if len(r.Stop) > 0 {
		// The service may run on the restored data: stop it before its
		// files move. A failure here is not final: it may not have started.
		_ = svcrestore.RunCommand(ctx, r.Stop)
	}
	var errs []error
	for _, s := range swaps {
		failed, err := s.Undo(r.Kind, PreRecoverInfix+x.stamp, FailedRecoverInfix+x.stamp)
		if failed != "" {
			res.FailedCopies = append(res.FailedCopies, failed)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	res.KeptAside = nil
	if len(r.Start) > 0 {
		return svcrestore.RunCommand(ctx, r.Start)
	}
	return nil
}
