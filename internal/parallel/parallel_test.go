package parallel

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestEachRunsEveryIndexOnce(t *testing.T) {
	const n = 1000
	var seen [n]atomic.Int32
	if err := Each(n, func(i int) error { seen[i].Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	for i := range seen {
		if c := seen[i].Load(); c != 1 {
			t.Fatalf("index %d ran %d times", i, c)
		}
	}
}

// The error returned is the lowest index's even when a later one fails
// first, as a loop would have reported it.
func TestEachReturnsTheLowestIndexError(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs 2 CPUs to run two indexes at once")
	}
	err := Each(2, func(i int) error {
		if i == 0 {
			time.Sleep(20 * time.Millisecond) // index 1 fails first
		}
		return fmt.Errorf("index %d", i)
	})
	if err == nil || err.Error() != "index 0" {
		t.Fatalf("got %v, want index 0", err)
	}
}

func TestEachStopsStartingAfterAFailure(t *testing.T) {
	var ran atomic.Int32
	err := Each(10000, func(i int) error {
		ran.Add(1)
		return errors.New("fail")
	})
	if err == nil {
		t.Fatal("no error")
	}
	if r := ran.Load(); r > int32(runtime.GOMAXPROCS(0)) {
		t.Fatalf("%d indexes ran after every one failed; at most one per worker should", r)
	}
}

func TestEachOfNothing(t *testing.T) {
	if err := Each(0, func(int) error { t.Fatal("called"); return nil }); err != nil {
		t.Fatal(err)
	}
}
