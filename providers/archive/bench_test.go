package archive

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkCreateVerify measures Create then Verify of a 200 MiB tree (10
// directories of 20 files of 1 MiB), reported in MiB of tree per second.
// "random" is incompressible like TSDB chunks; "text" compresses like logs
// and SQLite pages of text.
func BenchmarkCreateVerify(b *testing.B) {
	const dirs, files, size = 10, 20, 1 << 20
	for _, kind := range []string{"random", "text"} {
		b.Run(kind, func(b *testing.B) {
			tmp := b.TempDir()
			src := filepath.Join(tmp, "src")
			rng := rand.NewChaCha8([32]byte{})
			line := []byte("ts=2024-05-06T07:08:09Z level=info msg=\"compaction done\" block=01HX duration=1.2s\n")
			data := make([]byte, size)
			for d := range dirs {
				dir := filepath.Join(src, fmt.Sprintf("d%02d", d))
				must(b, os.MkdirAll(dir, 0o755))
				for f := range files {
					if kind == "random" {
						rng.Read(data)
					} else {
						copy(data, bytes.Repeat(line, size/len(line)+1))
						data[rand.IntN(size)] = byte(f)
					}
					must(b, os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d", f)), data, 0o644))
				}
			}
			b.SetBytes(dirs * files * size)
			var compressed int64
			for i := 0; b.Loop(); i++ {
				dest := filepath.Join(tmp, fmt.Sprintf("a%d.tar.gz", i))
				res, err := Create(context.Background(), dest, []Source{{Path: src, Name: "src"}})
				must(b, err)
				rep, err := Verify(context.Background(), dest, filepath.Join(tmp, fmt.Sprintf("scratch%d", i)))
				must(b, err)
				if len(rep.Mismatches) != 0 || rep.Files != dirs*files {
					b.Fatalf("verify = %+v", rep)
				}
				compressed = res.Bytes
				b.StopTimer()
				must(b, Delete(dest))
				must(b, os.RemoveAll(filepath.Join(tmp, fmt.Sprintf("scratch%d", i))))
				b.StartTimer()
			}
			b.ReportMetric(float64(dirs*files*size)/(1<<20)/(b.Elapsed().Seconds()/float64(b.N)), "MiB/s")
			b.ReportMetric(float64(compressed)/float64(dirs*files*size), "ratio")
		})
	}
}
