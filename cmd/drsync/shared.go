package main

import (
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/session"
	"github.com/drsync/drsync/target"
)

// session is what the shared flags select.
func (g *globalOptions) session() session.Options {
	return session.Options{File: g.file, Tags: g.tags, Host: g.host, Storage: g.storage}
}

// The shorthands below are what the recover and rehearse commands call.

func loadObserved(g *globalOptions) (*schema.Desired, *model.Observed, time.Time, error) {
	return g.session().LoadObserved()
}

func newStorage(g *globalOptions) (model.Storage, error) { return g.session().NewStorage() }

func observe(g *globalOptions, d *schema.Desired, now time.Time) (*model.Observed, error) {
	return g.session().Observe(d, now)
}

func openTarget(d *schema.Desired, name string) (target.Target, error) {
	return session.OpenTarget(d, name)
}
