package main

import (
	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/reconcile"
)

func newStorage() reconcile.Storage { return btrfs.Storage{} }
