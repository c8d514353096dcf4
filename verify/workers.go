package verify

import (
	"context"
	"runtime"
	"sync"
)

// compareWorkers starts the goroutines that compare the jobs sent on the
// returned channel, two per CPU (they wait on reads as much as they
// compute), each with its own pair of read buffers. After ctx ends, jobs
// are only released. Close the channel, then wait on wg.
func compareWorkers(ctx context.Context, wg *sync.WaitGroup, compare func(job, [2][]byte)) chan job {
	jobs := make(chan job, 1024)
	for range runtime.GOMAXPROCS(0) * 2 {
		wg.Go(func() {
			bufs := [2][]byte{make([]byte, cmpBufSize), make([]byte, cmpBufSize)}
			for j := range jobs {
				if ctx.Err() == nil {
					compare(j, bufs)
				}
				j.dir.release()
			}
		})
	}
	return jobs
}
