package parallel

import "sync"

// Concurrent calls fn for items 0..n-1, at most limit of them at a time, started in order, and
// hands the results to emit in order, from the calling goroutine, each as soon as it and those
// before it are done: a few large, unlike pieces of work (the sections of a dump, each already
// spread over the cores inside) keep every core busy where one after the other would leave one
// idle in each piece's serial parts. It stops at the first error, fn's or emit's, starts no
// more, and returns only once every fn it started has returned, so that what fn reads may be
// released after.
func Concurrent[R any](n, limit int, fn func(i int) (R, error), emit func(R) error) error {
	limit = max(limit, 1)
	type result struct {
		out  R
		err  error
		done chan struct{}
	}
	results := make([]result, n)
	for i := range results {
		results[i].done = make(chan struct{})
	}
	running := make(chan struct{}, limit) // a token per fn running
	var wg sync.WaitGroup
	defer wg.Wait()
	next := 0
	for i := 0; i < n; {
		var start chan<- struct{}
		if next < n {
			start = running
		}
		select {
		case start <- struct{}{}:
			select {
			case <-results[i].done:
				// The next to emit is done too (its token freed this one): emit it first,
				// so that nothing starts after an error that could have been seen.
				<-running
				continue
			default:
			}
			wg.Add(1)
			go func(r *result, k int) {
				defer wg.Done()
				r.out, r.err = fn(k)
				close(r.done)
				<-running
			}(&results[next], next)
			next++
		case <-results[i].done:
			r := &results[i]
			err := r.err
			if err == nil {
				err = emit(r.out)
			}
			if err != nil {
				return err
			}
			*r = result{} // its memory is the caller's again
			i++
		}
	}
	return nil
}
