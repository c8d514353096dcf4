package reconcile

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/drsync/drsync/reconcile/evidence"
	"github.com/drsync/drsync/reconcile/model"
)

// executor carries out an action of one kind and returns the bytes it
// moved and, for proofs, the evidence.
type executor func(ctx context.Context, env Env, a model.Action, progress func(int64)) (int64, *model.TestReport, error)

// executors is how apply carries out each kind; the kinds' registry says
// how the plan shows them.
var executors = map[model.Kind]executor{
	model.KindRepair:   runRemove,
	model.KindSnapshot: runSnapshot,
	model.KindBackup:   runBackup,
	model.KindSend:     runSend,
	model.KindTest:     runProof,
	model.KindDrill:    runProof,
	model.KindPrune:    runRemove,
	model.KindWrite:    runWrite,

	model.KindOffsiteCleanup: runOffsiteCleanup,
	model.KindOffsiteSend:    runOffsiteSend,
	model.KindOffsitePrune:   runOffsitePrune,
	model.KindOffsiteTest:    runOffsiteProof,
	model.KindOffsiteDrill:   runOffsiteProof,
}

// errPayload reports an action whose payload does not match its kind (a
// saved plan edited by hand, or from another version).
func errPayload(a model.Action) error {
	return fmt.Errorf("%s %s: the action carries no %s payload", a.Kind, a.Snapshot, a.Kind)
}

func runSnapshot(ctx context.Context, env Env, a model.Action, _ func(int64)) (int64, *model.TestReport, error) {
	if a.Take == nil {
		return 0, nil, errPayload(a)
	}
	return 0, nil, env.Storage.Snapshot(ctx, a.Take.Source, a.Path)
}

func runBackup(ctx context.Context, env Env, a model.Action, _ func(int64)) (int64, *model.TestReport, error) {
	if a.Backup == nil || a.Backup.Service == nil {
		return 0, nil, errPayload(a)
	}
	if env.Services == nil {
		return 0, nil, fmt.Errorf("no service store configured for %s", a.Subvolume)
	}
	n, err := env.Services.Backup(ctx, a.Backup.Service, a.Path)
	return n, nil, err
}

func runSend(ctx context.Context, env Env, a model.Action, progress func(int64)) (int64, *model.TestReport, error) {
	s := a.Send
	if s == nil {
		return 0, nil, errPayload(a)
	}
	if s.Archive {
		if env.Services == nil {
			return 0, nil, fmt.Errorf("no service store configured for %s", a.Subvolume)
		}
		n, err := env.Services.CopyArchive(ctx, s.From, filepath.Dir(a.Path))
		return n, nil, err
	}
	n, err := env.Storage.Send(ctx, s.From, s.Parent, filepath.Dir(a.Path), progress)
	return n, nil, err
}

func runRemove(ctx context.Context, env Env, a model.Action, _ func(int64)) (int64, *model.TestReport, error) {
	if a.Remove == nil {
		return 0, nil, errPayload(a)
	}
	if a.Remove.Archive {
		if env.Services == nil {
			return 0, nil, fmt.Errorf("no service store configured for %s", a.Subvolume)
		}
		return 0, nil, env.Services.DeleteArchive(a.Path)
	}
	return 0, nil, env.Storage.Delete(ctx, a.Path)
}

func runWrite(_ context.Context, _ Env, a model.Action, _ func(int64)) (int64, *model.TestReport, error) {
	if a.Write == nil {
		return 0, nil, errPayload(a)
	}
	return int64(len(a.Write.Content)), nil, evidence.WriteFile(a.Path, []byte(a.Write.Content))
}

func runProof(ctx context.Context, env Env, a model.Action, progress func(int64)) (int64, *model.TestReport, error) {
	if a.Proof == nil {
		return 0, nil, errPayload(a)
	}
	if env.Prover == nil {
		return 0, nil, fmt.Errorf("no prover configured for %s", a.Kind)
	}
	return prove(ctx, env.Prover, a, progress)
}
