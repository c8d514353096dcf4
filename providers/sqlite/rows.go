package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Table is one table of a database and how many rows it holds.
type Table struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
}

// CountRows lists the tables of a closed copy of a database (SQLite's own
// excepted) with their row counts, reading every row: what an application
// opening the restored copy would find. Like IntegrityCheck, it opens the
// copy immutable and refuses one with a -wal file beside it.
func CountRows(ctx context.Context, path string) ([]Table, error) {
	src, err := closedCopy(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite tables of %s: %w", path, err)
	}
	out, err := run(ctx, "", "-bail", "-json", src,
		`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name;`)
	if err != nil {
		return nil, fmt.Errorf("sqlite tables of %s: %w", path, err)
	}
	var tables []Table
	if strings.TrimSpace(out) != "" {
		if err := json.Unmarshal([]byte(out), &tables); err != nil {
			return nil, fmt.Errorf("sqlite tables of %s: %w", path, err)
		}
	}
	if len(tables) == 0 {
		return nil, nil
	}
	counts := make([]string, len(tables))
	for i, t := range tables {
		counts[i] = fmt.Sprintf(`SELECT '%s' AS name, count(*) AS rows FROM "%s"`,
			strings.ReplaceAll(t.Name, "'", "''"), strings.ReplaceAll(t.Name, `"`, `""`))
	}
	out, err = run(ctx, "", "-bail", "-json", src, strings.Join(counts, " UNION ALL ")+";")
	if err != nil {
		return nil, fmt.Errorf("sqlite row counts of %s: %w", path, err)
	}
	var counted []Table
	if err := json.Unmarshal([]byte(out), &counted); err != nil || len(counted) != len(tables) {
		return nil, fmt.Errorf("sqlite row counts of %s: %d answers for %d tables: %v", path, len(counted), len(tables), err)
	}
	return counted, nil
}

// closedCopy is the URI that opens a closed copy read-only and immutable,
// refusing a path with a -wal file beside it, which immutable would ignore.
func closedCopy(path string) (string, error) {
	if _, err := os.Stat(path + "-wal"); err == nil {
		return "", fmt.Errorf("it has a -wal file: read a closed copy (as Backup makes), not a live database")
	}
	return uri(path, "mode=ro&immutable=1")
}
