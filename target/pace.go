package target

import (
	"io"
	"time"
)

// Pacer keeps a transfer's average rate under a declared bandwidth limit
// (bytes per second) by sleeping once the bytes moved so far are ahead of
// what the limit allows since the start. Both off-site transports use it:
// ssh paces the pipe into ssh, S3 paces the stream into its parts
// (PacedWriter).
type Pacer struct {
	limit int64
	start time.Time
	now   func() time.Time
	sleep func(time.Duration)
}

// NewPacer returns a pacer for limit bytes per second; 0 is unlimited.
func NewPacer(limit int64) *Pacer {
	return &Pacer{limit: limit, start: time.Now(), now: time.Now, sleep: time.Sleep}
}

// Wait returns once total bytes may have passed: at once when unlimited
// or behind the limit, else after sleeping the difference.
func (p *Pacer) Wait(total int64) {
	if p.limit <= 0 {
		return
	}
	due := time.Duration(float64(total) / float64(p.limit) * float64(time.Second))
	if wait := due - p.now().Sub(p.start); wait > 0 {
		p.sleep(wait)
	}
}

// PacedWriter writes to w no faster on average than limit bytes per
// second (w itself when limit is 0).
func PacedWriter(w io.Writer, limit int64) io.Writer {
	if limit <= 0 {
		return w
	}
	return &pacedWriter{w: w, pacer: NewPacer(limit)}
}

type pacedWriter struct {
	w     io.Writer
	n     int64
	pacer *Pacer
}

func (p *pacedWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.n += int64(n)
	p.pacer.Wait(p.n)
	return n, err
}
