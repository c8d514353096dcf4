package main

import (
	"fmt"

	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/providers/dirfs"
	"github.com/drsync/drsync/reconcile/model"
)

func newStorage(g *globalOptions) (model.Storage, error) {
	switch g.storage {
	case "btrfs":
		return btrfs.Storage{}, nil
	case "dir":
		return dirfs.Storage{}, nil
	}
	return nil, fmt.Errorf("--storage %q: want btrfs or dir", g.storage)
}
