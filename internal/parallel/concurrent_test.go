package parallel

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestConcurrent(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name      string
		n, limit  int
		failAt    int // fn fails at this item (-1: none)
		emitFail  int // emit fails at this item (-1: none)
		want      []int
		wantErr   error
		wantStart int // at most this many fns started (0: n)
	}{
		{name: "none", n: 0, limit: 2, failAt: -1, emitFail: -1},
		{name: "in order", n: 7, limit: 2, failAt: -1, emitFail: -1, want: []int{0, 10, 20, 30, 40, 50, 60}},
		{name: "one at a time", n: 4, limit: 1, failAt: -1, emitFail: -1, want: []int{0, 10, 20, 30}},
		{name: "limit of zero is one", n: 3, limit: 0, failAt: -1, emitFail: -1, want: []int{0, 10, 20}},
		{name: "more room than items", n: 3, limit: 8, failAt: -1, emitFail: -1, want: []int{0, 10, 20}},
		// An error: those before it are emitted, none after, and no more is started than
		// the window allowed when it was seen.
		{name: "fn fails", n: 10, limit: 1, failAt: 3, emitFail: -1, want: []int{0, 10, 20}, wantErr: boom, wantStart: 4},
		{name: "emit fails", n: 10, limit: 1, failAt: -1, emitFail: 2, want: []int{0, 10}, wantErr: boom, wantStart: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var running, most, started atomic.Int32
			var got []int
			err := Concurrent(tc.n, tc.limit, func(i int) (int, error) {
				started.Add(1)
				now := running.Add(1)
				defer running.Add(-1)
				for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
				}
				// Later items finish first: emit must still see them in order.
				time.Sleep(time.Duration(tc.n-i) * time.Millisecond)
				if i == tc.failAt {
					return 0, boom
				}
				return 10 * i, nil
			}, func(v int) error {
				if v == 10*tc.emitFail {
					return boom
				}
				got = append(got, v)
				return nil
			})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("emitted %v, want %v", got, tc.want)
			}
			if r := running.Load(); r != 0 {
				t.Errorf("%d fns still running after Concurrent returned", r)
			}
			if limit := int32(max(tc.limit, 1)); most.Load() > limit {
				t.Errorf("%d fns at once, want at most %d", most.Load(), limit)
			}
			if tc.wantStart > 0 && int(started.Load()) > tc.wantStart {
				t.Errorf("started %d fns, want at most %d", started.Load(), tc.wantStart)
			}
		})
	}
}

// TestConcurrentOverlaps checks that the window is used: with room for two, two slow items run
// at the same time.
func TestConcurrentOverlaps(t *testing.T) {
	var running, most atomic.Int32
	err := Concurrent(4, 2, func(i int) (int, error) {
		now := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		return i, nil
	}, func(int) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if most.Load() != 2 {
		t.Errorf("at most %d fns ran at once, want 2", most.Load())
	}
}
