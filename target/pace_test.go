package target

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// A fake clock that sleeping advances: the pacer's arithmetic is checked
// without timing anything.
type fakeClock struct {
	t     time.Time
	slept time.Duration
}

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(d time.Duration) {
	c.slept += d
	c.t = c.t.Add(d)
}

func pacedWith(limit int64, c *fakeClock) *Pacer {
	return &Pacer{limit: limit, start: c.t, now: c.now, sleep: c.sleep}
}

func TestPacerKeepsTheAverageUnderTheLimit(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	p := pacedWith(4<<20, c) // 4 MiB/s
	// 24 MiB in 1 MiB chunks arriving instantly: the pacer must stretch
	// them to 6 s, and never let the average exceed the limit.
	for total := int64(1 << 20); total <= 24<<20; total += 1 << 20 {
		p.Wait(total)
		if elapsed := c.t.Sub(p.start); float64(total)/elapsed.Seconds() > 4<<20+1 {
			t.Fatalf("%d bytes after %v: %.0f B/s, over the limit", total, elapsed, float64(total)/elapsed.Seconds())
		}
	}
	if c.slept != 6*time.Second {
		t.Errorf("slept %v for 24 MiB at 4 MiB/s, want 6s", c.slept)
	}

	// A transfer already slower than the limit is never delayed.
	c = &fakeClock{t: time.Unix(1_800_000_000, 0)}
	p = pacedWith(4<<20, c)
	c.t = c.t.Add(10 * time.Second)
	p.Wait(8 << 20)
	if c.slept != 0 {
		t.Errorf("slept %v although 8 MiB took 10 s", c.slept)
	}
}

func TestPacedWriterUnlimitedIsTheWriter(t *testing.T) {
	var w bytes.Buffer
	if PacedWriter(&w, 0) != io.Writer(&w) {
		t.Error("an unlimited writer is wrapped")
	}
	c := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	pw := &pacedWriter{w: io.Discard, pacer: pacedWith(1<<20, c)}
	n, err := io.Copy(pw, bytes.NewReader(make([]byte, 3<<20)))
	if err != nil || n != 3<<20 {
		t.Fatalf("copied %d, %v", n, err)
	}
	if c.slept != 3*time.Second {
		t.Errorf("3 MiB at 1 MiB/s slept %v, want 3s", c.slept)
	}
}
