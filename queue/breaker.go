package queue

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
)

// ErrRequestQueueFull is returned by [Breaker.Maybe] when MaxConcurrency callers are
// running and QueueDepth more are already waiting. Proxies answer it with 503 and this
// message (Knative's "pending request queue full").
var ErrRequestQueueFull = errors.New("pending request queue full")

// MaxBreakerCapacity is the largest MaxConcurrency a Breaker accepts: capacity and
// in-use count are packed into one 64-bit word (see Breaker).
const MaxBreakerCapacity = math.MaxInt32

// BreakerParams configures a [Breaker] (knative.dev/serving/pkg/queue/breaker.go).
type BreakerParams struct {
	// QueueDepth is how many callers may wait in addition to MaxConcurrency; must be > 0.
	QueueDepth int
	// MaxConcurrency is the most callers that may run at once; must be in
	// [0, MaxBreakerCapacity]. Zero means nobody runs until UpdateConcurrency raises it
	// (it cannot: capacity is clamped to MaxConcurrency), so zero is only useful for tests.
	MaxConcurrency int
	// InitialCapacity is the starting capacity, in [0, MaxConcurrency].
	InitialCapacity int
}

// Bit layout of Breaker.state. The in-use count lives in the low 32 bits, the capacity
// in bits 32..62 and bit 63 says "the waiter list is not empty".
const (
	inUseMask   = 1<<32 - 1
	capShift    = 32
	capMask     = 1<<31 - 1
	waitersFlag = 1 << 63
)

// Breaker limits how many callers run at once (the capacity) and how many may wait for
// a slot (QueueDepth plus whatever MaxConcurrency does not currently allow). It is
// Knative's queue-proxy breaker with one deliberate difference: waiters are served in
// FIFO order (see the package documentation for why).
//
// Invariant of the lock-free fast path: state holds (waiters, capacity, inUse) in one
// word, so every transition is a single CAS on a consistent triple. While the waiters
// bit is clear, acquire is "CAS inUse+1 if inUse < capacity" and release is "CAS
// inUse-1": one atomic load and one CAS, no lock, no channel, no allocation. The waiters
// bit is set and cleared only with mu held, and it is set (by a CAS that also observes
// inUse >= capacity) before a waiter is queued. So once anyone waits, every fast-path
// CAS fails or sees the bit and falls to the slow path under mu, where release hands
// its slot straight to the oldest waiter (inUse unchanged) instead of freeing it. A
// newcomer therefore never overtakes a waiter.
//
// A Breaker must not be copied after first use. All methods are safe for concurrent use.
type Breaker struct {
	totalSlots int64
	maxConc    int

	inFlight atomic.Int64  // callers inside Maybe/Reserve: queued + running
	state    atomic.Uint64 // waitersFlag | capacity<<capShift | inUse

	// mu guards the waiter list and every change of the waiters bit and of capacity.
	mu      sync.Mutex
	waiters waiterList

	pool sync.Pool // *waiter, so that waiting does not allocate in steady state

	// releaseFn is the shared release closure returned by Reserve, built once so that
	// Reserve does not allocate.
	releaseFn func()
}

// NewBreaker returns a Breaker configured by p. It panics (with the prefix "queue: ")
// if p is invalid: QueueDepth <= 0, MaxConcurrency outside [0, MaxBreakerCapacity] or
// InitialCapacity outside [0, MaxConcurrency]. Invalid parameters are a programmer error.
func NewBreaker(p BreakerParams) *Breaker {
	switch {
	case p.QueueDepth <= 0:
		panic(fmt.Sprintf("queue: BreakerParams.QueueDepth must be > 0, got %d", p.QueueDepth))
	case p.MaxConcurrency < 0 || p.MaxConcurrency > MaxBreakerCapacity:
		panic(fmt.Sprintf("queue: BreakerParams.MaxConcurrency must be in [0, %d], got %d", MaxBreakerCapacity, p.MaxConcurrency))
	case p.InitialCapacity < 0 || p.InitialCapacity > p.MaxConcurrency:
		panic(fmt.Sprintf("queue: BreakerParams.InitialCapacity must be in [0, MaxConcurrency=%d], got %d", p.MaxConcurrency, p.InitialCapacity))
	}
	b := &Breaker{
		totalSlots: int64(p.QueueDepth) + int64(p.MaxConcurrency),
		maxConc:    p.MaxConcurrency,
	}
	b.state.Store(uint64(p.InitialCapacity) << capShift)
	b.pool.New = func() any { return &waiter{ready: make(chan struct{}, 1)} }
	b.releaseFn = b.releaseReserved
	return b
}

// Maybe runs thunk when a slot is free, waiting in FIFO order if none is. It returns
// nil iff thunk ran; ErrRequestQueueFull at once (without waiting) when the breaker is
// full; or ctx.Err() when ctx ends while waiting. As in Knative, ctx is only consulted
// while waiting: a free slot runs thunk even if ctx is already done. On error nothing
// is left held.
func (b *Breaker) Maybe(ctx context.Context, thunk func()) error {
	if !b.tryPending() {
		return ErrRequestQueueFull
	}
	defer b.inFlight.Add(-1)
	if err := b.acquire(ctx); err != nil {
		return err
	}
	defer b.release()
	thunk()
	return nil
}

// Reserve takes a slot without waiting. On success it returns ok and a release func
// that must be called exactly once; it fails when the breaker is full, when no
// capacity is free, or when others are waiting (a reservation never overtakes a waiter).
// ctx is unused; it is there so Reserve matches Knative's signature.
func (b *Breaker) Reserve(_ context.Context) (release func(), ok bool) {
	if !b.tryPending() {
		return nil, false
	}
	if !b.tryAcquire() {
		b.inFlight.Add(-1)
		return nil, false
	}
	return b.releaseFn, true
}

func (b *Breaker) releaseReserved() {
	b.release()
	b.inFlight.Add(-1)
}

// UpdateConcurrency sets the capacity to size clamped to [0, MaxConcurrency]. Callers
// already running keep running when it shrinks; when it grows, the oldest waiters are
// admitted at once.
func (b *Breaker) UpdateConcurrency(size int) {
	size = min(max(size, 0), b.maxConc)
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		s := b.state.Load()
		ns := s&^(capMask<<capShift) | uint64(size)<<capShift
		if b.state.CompareAndSwap(s, ns) {
			break
		}
	}
	b.grantLocked()
}

// Capacity returns the current capacity: how many callers may run at once.
func (b *Breaker) Capacity() int {
	return int(b.state.Load() >> capShift & capMask)
}

// InFlight returns the number of callers inside the breaker, queued plus running
// (Knative's queue-depth gauge).
func (b *Breaker) InFlight() int {
	return int(b.inFlight.Load())
}

// tryPending takes a pending slot (queued or running) if fewer than totalSlots are taken.
func (b *Breaker) tryPending() bool {
	for {
		n := b.inFlight.Load()
		if n >= b.totalSlots {
			return false
		}
		if b.inFlight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// tryAcquire is the fast path: take a slot iff nobody waits and one is free.
func (b *Breaker) tryAcquire() bool {
	for {
		s := b.state.Load()
		if s&waitersFlag != 0 || s&inUseMask >= s>>capShift&capMask {
			return false
		}
		if b.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

func (b *Breaker) acquire(ctx context.Context) error {
	if b.tryAcquire() {
		return nil
	}
	b.mu.Lock()
	// Under mu the waiters bit is stable, so either take a free slot (only possible
	// when nobody waits) or set the bit by a CAS that observed no free slot.
	for {
		s := b.state.Load()
		if s&waitersFlag == 0 && s&inUseMask < s>>capShift&capMask {
			if b.state.CompareAndSwap(s, s+1) {
				b.mu.Unlock()
				return nil
			}
			continue
		}
		if b.state.CompareAndSwap(s, s|waitersFlag) {
			break
		}
	}
	w := b.pool.Get().(*waiter)
	b.waiters.pushBack(w)
	b.mu.Unlock()

	select {
	case <-w.ready:
		w.granted = false
		b.pool.Put(w)
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	if w.granted {
		// The slot was handed over as ctx ended: give it back (maybe to the next
		// waiter) and report the cancellation, leaving the breaker as it was.
		b.mu.Unlock()
		<-w.ready
		w.granted = false
		b.pool.Put(w)
		b.release()
		return ctx.Err()
	}
	b.waiters.remove(w)
	if b.waiters.empty() {
		b.clearWaitersLocked()
	}
	// Removing a waiter can unblock nothing: slots are handed over, never left free
	// while someone waits.
	b.mu.Unlock()
	b.pool.Put(w)
	return ctx.Err()
}

func (b *Breaker) release() {
	for {
		s := b.state.Load()
		if s&inUseMask == 0 {
			panic("queue: Breaker release without acquire")
		}
		if s&waitersFlag != 0 {
			break
		}
		if b.state.CompareAndSwap(s, s-1) {
			return
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		s := b.state.Load()
		if s&waitersFlag != 0 && s&inUseMask <= s>>capShift&capMask {
			// Hand the slot to the oldest waiter: inUse stays the same.
			b.grantOneLocked()
			return
		}
		if b.state.CompareAndSwap(s, s-1) {
			return
		}
	}
}

// grantLocked admits waiters while capacity allows.
func (b *Breaker) grantLocked() {
	for !b.waiters.empty() {
		s := b.state.Load()
		if s&inUseMask >= s>>capShift&capMask {
			return
		}
		if b.state.CompareAndSwap(s, s+1) {
			b.grantOneLocked()
		}
	}
}

// grantOneLocked gives one (already counted) slot to the oldest waiter.
func (b *Breaker) grantOneLocked() {
	w := b.waiters.popFront()
	w.granted = true
	w.ready <- struct{}{}
	if b.waiters.empty() {
		b.clearWaitersLocked()
	}
}

func (b *Breaker) clearWaitersLocked() {
	for {
		s := b.state.Load()
		if b.state.CompareAndSwap(s, s&^waitersFlag) {
			return
		}
	}
}

// waiter is one caller blocked in acquire. ready (buffered 1) receives one token when
// the waiter is granted a slot; granted is set, under Breaker.mu, at the same time.
type waiter struct {
	ready      chan struct{}
	granted    bool
	prev, next *waiter
}

// waiterList is an intrusive FIFO list guarded by Breaker.mu.
type waiterList struct {
	head, tail *waiter
}

func (l *waiterList) empty() bool { return l.head == nil }

func (l *waiterList) pushBack(w *waiter) {
	w.prev, w.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
}

func (l *waiterList) popFront() *waiter {
	w := l.head
	l.remove(w)
	return w
}

func (l *waiterList) remove(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.prev, w.next = nil, nil
}
