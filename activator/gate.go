// This file owns the revision breaker: queue.Breaker for a finite containerConcurrency
// or a gate for containerConcurrency 0, and the capacity they are given.

package activator

import (
	"context"
	"math"
	"sync"

	"github.com/servekit/servekit/queue"
)

// breaker is what a revision needs from its admission control: queue.Breaker for a
// finite containerConcurrency, gate for containerConcurrency 0.
type breaker interface {
	Maybe(ctx context.Context, thunk func()) error
	UpdateConcurrency(n int)
	Capacity() int
}

func newBreaker(cc int) breaker {
	if cc == 0 {
		return newGate()
	}
	// The activator bounds waiters itself (Options.QueueDepth counts requests that have
	// not reached a pod); the breaker only gates on capacity, which can be as large as
	// containerConcurrency × pods.
	return queue.NewBreaker(queue.BreakerParams{QueueDepth: 1, MaxConcurrency: queue.MaxBreakerCapacity})
}

// capacityFor is the revision breaker's capacity for cc and the number of pods assigned
// to this activator: cc × pods, clamped to what a Breaker can hold; any pod opens a gate.
func capacityFor(cc, pods int) int {
	if pods == 0 {
		return 0
	}
	if cc == 0 || int64(cc)*int64(pods) > math.MaxInt32 {
		return math.MaxInt32
	}
	return cc * pods
}

// gate is Knative's "infinite breaker" (infiniteBreaker in
// knative.dev/serving/pkg/activator/net/throttler.go): closed or open, nothing in
// between. While closed every caller waits; opening releases them all at once.
type gate struct {
	mu   sync.RWMutex // guards open and ch
	open bool
	ch   chan struct{} // closed when the gate opens; replaced when it closes again
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

func (g *gate) Maybe(ctx context.Context, thunk func()) error {
	g.mu.RLock()
	open, ch := g.open, g.ch
	g.mu.RUnlock()
	if !open {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	thunk()
	return nil
}

func (g *gate) UpdateConcurrency(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch open := n > 0; {
	case open && !g.open:
		close(g.ch)
	case !open && g.open:
		g.ch = make(chan struct{})
	}
	g.open = n > 0
}

func (g *gate) Capacity() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.open {
		return 1
	}
	return 0
}
