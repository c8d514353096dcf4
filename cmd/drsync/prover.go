package main

import (
	"github.com/drsync/drsync/prove"
	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/schema"
)

func newProver(g *globalOptions, d *schema.Desired) reconcile.Prover {
	st, err := newStorage(g)
	if err != nil {
		return nil
	}
	return prove.New(st, d)
}
