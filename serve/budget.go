package serve

import (
	"container/list"
	"context"
	"sync"
)

// budget admits work by the bytes it costs and the lanes it runs on: a holder takes n bytes
// of size and one of lanes. Waiters are served in their order of arrival: one that asks for
// much, at the head of the line, holds back those behind it even where they would fit, so
// that a large request is never starved by smaller ones.
type budget struct {
	size  int64
	lanes int

	mu      sync.Mutex
	used    int64
	running int
	waiting list.List // of *budgetWaiter, first come first
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed once the bytes and a lane are granted
}

func newBudget(size int64, lanes int) *budget { return &budget{size: size, lanes: lanes} }

// acquire takes n bytes, at most the budget's size, and a lane, waiting in line for them
// until ctx is done or stop is closed (then it takes nothing and returns ctx's error or
// errShuttingDown).
func (b *budget) acquire(ctx context.Context, stop <-chan struct{}, n int64) error {
	b.mu.Lock()
	if b.waiting.Len() == 0 && b.fits(n) {
		b.used += n
		b.running++
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	e := b.waiting.PushBack(w)
	b.mu.Unlock()

	var err error
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-stop:
		err = errShuttingDown
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted meanwhile: give it back
		b.used -= n
		b.running--
	default:
		b.waiting.Remove(e)
	}
	b.grant() // those behind may fit now
	return err
}

// release gives back n bytes and a lane. It reports whether the budget is now idle: no
// bytes in use, nobody waiting.
func (b *budget) release(n int64) (idle bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	b.running--
	b.grant()
	return b.used == 0 && b.waiting.Len() == 0
}

// fits reports whether n more bytes and a lane are free. b.mu is held.
func (b *budget) fits(n int64) bool { return b.used+n <= b.size && b.running < b.lanes }

// grant serves the waiters at the head of the line while they fit. b.mu is held.
func (b *budget) grant() {
	for e := b.waiting.Front(); e != nil && b.fits(e.Value.(*budgetWaiter).n); e = b.waiting.Front() {
		w := e.Value.(*budgetWaiter)
		b.used += w.n
		b.running++
		b.waiting.Remove(e)
		close(w.ready)
	}
}

// state returns the bytes in use and the number of waiters.
func (b *budget) state() (used int64, waiting int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.waiting.Len()
}
