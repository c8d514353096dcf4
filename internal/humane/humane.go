// Package humane holds the few formatters drsync's human output shares:
// counts with their noun, byte sizes, and journaled seconds as durations.
package humane

import (
	"fmt"
	"strings"
	"time"
)

// Count says "1 file", "2 files", "2 entries".
func Count(n int, noun string) string {
	switch {
	case n == 1:
		return fmt.Sprintf("%d %s", n, noun)
	case strings.HasSuffix(noun, "y"):
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(noun, "y"))
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Bytes says 512 B, 1.5 KiB, 2.0 GiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Seconds turns journaled seconds into a duration, exactly.
func Seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Rounded rounds a duration for reading: milliseconds under a minute,
// seconds above.
func Rounded(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}
