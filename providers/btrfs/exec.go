package btrfs

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// run execs btrfs-progs and folds its stderr into the error, since that is
// where it explains what went wrong.
func run(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "btrfs", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("btrfs %s: %w%s", strings.Join(args, " "), err, stderrSuffix(&stderr))
	}
	return nil
}

func stderrSuffix(b *bytes.Buffer) string {
	s := strings.TrimSpace(b.String())
	if s == "" {
		return ""
	}
	return ": " + s
}

// Create creates an empty subvolume at path.
func Create(ctx context.Context, path string) error {
	return run(ctx, "subvolume", "create", path)
}
