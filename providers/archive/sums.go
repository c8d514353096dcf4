package archive

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Sums reads the SHA-256 an archive records for each regular file member
// (hardlinked names included), by member name, without extracting it: what
// a restored file is compared with later. It does not check the archive
// itself; Verify does.
func Sums(ctx context.Context, archivePath string) (map[string]string, error) {
	f, err := os.Open(archivePath)
	if err != nil {
		return nil, fmt.Errorf("archive sums: %w", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("archive sums of %s: %w", archivePath, err)
	}
	sums := map[string]string{}
	tr := tar.NewReader(gz)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return sums, nil
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return nil, fmt.Errorf("archive sums of %s: %w", archivePath, err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		switch hdr.Typeflag {
		case tar.TypeReg:
			sums[name] = hdr.PAXRecords[paxSHA256]
		case tar.TypeLink:
			if s, ok := sums[hdr.Linkname]; ok {
				sums[name] = s
			}
		}
	}
}
