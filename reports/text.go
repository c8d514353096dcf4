package reports

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/drsync/drsync/reconcile/model"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/internal/termtext"
)

// WriteText writes r for a person: one block per item, then the summary.
// Names and failure details come from the user's files and trees, so
// control characters are escaped before they reach a terminal.
func WriteText(w io.Writer, r Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "drsync %s report", r.Kind)
	if r.Host != "" {
		fmt.Fprintf(&b, ", host %s", termtext.Escape(r.Host))
	}
	fmt.Fprintf(&b, ", started %s\n\n", r.Started.UTC().Format("2006-01-02 15:04:05 UTC"))
	for _, it := range r.Items {
		writeItem(&b, it)
	}
	s := r.Summary
	fmt.Fprintf(&b, "\nSummary: %d of %d passed (%.1f%%), %d failed, %d skipped.\n",
		s.Passed, s.Passed+s.Failed, 100*s.SuccessRate, s.Failed, s.Skipped)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeItem(b *strings.Builder, it Item) {
	fmt.Fprintf(b, "%-4s  %s", strings.ToUpper(string(it.Result)), termtext.Escape(it.Name))
	if it.Copy != "" {
		fmt.Fprintf(b, "  %s", termtext.Escape(it.Copy))
		if it.Location != "" {
			fmt.Fprintf(b, " on %s", termtext.Escape(it.Location))
		}
	}
	b.WriteString("\n")
	if it.Result != model.ResultSkip || it.Files > 0 {
		writeMeasures(b, it)
	}
	if it.Why != "" {
		fmt.Fprintf(b, "      %s\n", termtext.Escape(it.Why))
	}
	for _, f := range it.Failures {
		fmt.Fprintf(b, "      ✗ %s: %s", termtext.Escape(f.Path), termtext.Escape(f.Check))
		if f.Detail != "" {
			fmt.Fprintf(b, " (%s)", termtext.Escape(f.Detail))
		}
		b.WriteString("\n")
	}
	if it.FailuresOmitted > 0 {
		fmt.Fprintf(b, "      … and %s more\n", humane.Count(it.FailuresOmitted, "failure"))
	}
}

// writeMeasures says how long the item took (restore and verification
// apart when measured, against its RTO target) and what it verified.
func writeMeasures(b *strings.Builder, it Item) {
	fmt.Fprintf(b, "      %s", humane.Rounded(humane.Seconds(it.Seconds)))
	var split []string
	if it.RestoreSeconds > 0 || it.VerifySeconds > 0 {
		split = append(split, "restore "+humane.Rounded(humane.Seconds(it.RestoreSeconds)).String(),
			"verify "+humane.Rounded(humane.Seconds(it.VerifySeconds)).String())
	}
	if it.RTOTargetSeconds > 0 {
		split = append(split, "RTO target "+humane.Seconds(it.RTOTargetSeconds).Round(time.Second).String())
	}
	if len(split) > 0 {
		fmt.Fprintf(b, " (%s)", strings.Join(split, ", "))
	}
	fmt.Fprintf(b, ", %s, %s verified\n", humane.Count(it.Files, "file"), humane.Bytes(it.Bytes))
}
