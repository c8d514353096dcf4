package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/render/runbook"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

// TestRunbookCommandsParse renders the runbooks of the homelab example and
// checks that every drsync command in them is one this CLI accepts: a
// runbook whose commands would not work is a bug.
func TestRunbookCommandsParse(t *testing.T) {
	d, err := schema.Load(filepath.Join("..", "..", "examples", "desired", "homelab.cue"), nil)
	if err != nil {
		t.Fatal(err)
	}
	books, err := runbook.Render(view.Input{Desired: d, Now: time.Date(2026, 11, 22, 3, 30, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for name, md := range books {
		for _, cmd := range runbook.Commands(md) {
			if cmd[0] != d.Generate.Binary && cmd[0] != "drsync" {
				t.Errorf("%s: %q does not call %s", name, strings.Join(cmd, " "), d.Generate.Binary)
				continue
			}
			root := newRootCommand(&globalOptions{})
			c, rest, err := root.Find(cmd[1:])
			if err != nil || c == root {
				t.Errorf("%s: %q: no such command (%v)", name, strings.Join(cmd, " "), err)
				continue
			}
			if err := c.ParseFlags(rest); err != nil {
				t.Errorf("%s: %q: %v", name, strings.Join(cmd, " "), err)
				continue
			}
			if err := c.ValidateArgs(c.Flags().Args()); err != nil {
				t.Errorf("%s: %q: %v", name, strings.Join(cmd, " "), err)
				continue
			}
			if err := c.ValidateRequiredFlags(); err != nil {
				t.Errorf("%s: %q: %v", name, strings.Join(cmd, " "), err)
				continue
			}
			checked++
		}
	}
	if checked < 8 {
		t.Errorf("only %d drsync commands found in the runbooks", checked)
	}
}
