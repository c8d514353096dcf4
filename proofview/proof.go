// Package proofview words the reports of restore tests and drills as
// `drsync test` and `drsync drill` print them.
package proofview

import (
	"fmt"
	"io"
	"strings"

	"github.com/drsync/drsync/internal/termtext"
	"github.com/drsync/drsync/reconcile/model"
)

// FailureLine is one failed check of a test or drill report: the path,
// the check, and each value with the side it was read from.
func FailureLine(f model.Failure) string {
	p := termtext.Escape(f.Path)
	if p == "" {
		p = "."
	}
	line := fmt.Sprintf("✗ %s: %s", p, f.Check)
	if detail := f.Detail(termtext.Escape); detail != "" {
		line += " (" + detail + ")"
	}
	return line
}

// drillChecks are what a drill compares on every entry of the tree
// (verify.CompareTrees); its report lists failures, not every file.
const drillChecks = "every entry: type, size, content byte for byte, symlink, mode, owner, mtime, xattrs, hardlink count"

// CheckNames lists the distinct checks a report ran, in first-seen order,
// every xattr counted once.
func CheckNames(r model.TestReport) string {
	if r.Kind == model.KindDrill && len(r.Checked) == 0 {
		return drillChecks
	}
	seen := map[string]bool{}
	var names []string
	for _, fc := range r.Checked {
		for _, c := range append(append([]string(nil), fc.Passed...), fc.Failed...) {
			if prefix, _, ok := strings.Cut(c, "xattr:"); ok {
				c = prefix + "xattrs"
			}
			if !seen[c] {
				seen[c] = true
				names = append(names, c)
			}
		}
	}
	return strings.Join(names, ", ")
}

// WriteChecked lists every file with the checks it passed (and failed).
func WriteChecked(w io.Writer, r model.TestReport) {
	if len(r.Checked) == 0 {
		for _, p := range r.Paths {
			fmt.Fprintf(w, "  ✓ %s\n", termtext.Escape(p))
		}
		return
	}
	for _, fc := range r.Checked {
		mark := "✓"
		detail := strings.Join(fc.Passed, ", ")
		if len(fc.Failed) > 0 {
			mark = "✗"
			detail = "failed " + strings.Join(fc.Failed, ", ")
			if len(fc.Passed) > 0 {
				detail += "; passed " + strings.Join(fc.Passed, ", ")
			}
		}
		fmt.Fprintf(w, "  %s %s: %s\n", mark, termtext.Escape(fc.Path), detail)
	}
}
