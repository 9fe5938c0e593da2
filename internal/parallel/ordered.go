// Package parallel runs work on all cores while keeping its results in order.
package parallel

import (
	"runtime"
	"sync"
)

// Batch is how many items one worker takes at a time.
const Batch = 32

// Ordered calls fn for items 0..n-1 on all cores, in batches, and hands the results to emit in
// order, from the calling goroutine. At most a few batches are done but not yet emitted, so
// memory stays flat when emit is slower than fn. It stops at the first error, fn's or emit's.
func Ordered[R any](n int, fn func(i int) (R, error), emit func(R) error) error {
	if n == 0 {
		return nil
	}
	batches := (n + Batch - 1) / Batch
	workers := min(runtime.GOMAXPROCS(0), batches)
	if workers == 1 {
		for i := 0; i < n; i++ {
			out, err := fn(i)
			if err == nil {
				err = emit(out)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	type result struct {
		out  []R
		err  error
		done chan struct{}
	}
	results := make([]*result, batches)
	for b := range results {
		results[b] = &result{done: make(chan struct{})}
	}
	work := make(chan int)
	slots := make(chan struct{}, 4*workers) // batches done but not yet emitted
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				res := results[b]
				for i := b * Batch; i < min((b+1)*Batch, n); i++ {
					out, err := fn(i)
					if err != nil {
						res.err = err
						break
					}
					res.out = append(res.out, out)
				}
				close(res.done)
			}
		}()
	}
	go func() {
		defer close(work)
		for b := range results {
			select {
			case slots <- struct{}{}:
			case <-stop:
				return
			}
			select {
			case work <- b:
			case <-stop:
				return
			}
		}
	}()
	defer wg.Wait()
	defer close(stop)
	for _, res := range results {
		<-res.done
		<-slots
		if res.err != nil {
			return res.err
		}
		for _, out := range res.out {
			if err := emit(out); err != nil {
				return err
			}
		}
		res.out = nil
	}
	return nil
}
