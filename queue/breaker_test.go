package queue

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func (b *Breaker) numWaiters() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for w := b.waiters.head; w != nil; w = w.next {
		n++
	}
	return n
}

func TestNewBreakerPanics(t *testing.T) {
	tests := []struct {
		name string
		p    BreakerParams
		want string
	}{
		{"zero queue depth", BreakerParams{QueueDepth: 0, MaxConcurrency: 1, InitialCapacity: 1}, "QueueDepth"},
		{"negative concurrency", BreakerParams{QueueDepth: 1, MaxConcurrency: -1}, "MaxConcurrency"},
		{"too large concurrency", BreakerParams{QueueDepth: 1, MaxConcurrency: MaxBreakerCapacity + 1}, "MaxConcurrency"},
		{"negative initial", BreakerParams{QueueDepth: 1, MaxConcurrency: 1, InitialCapacity: -1}, "InitialCapacity"},
		{"initial above max", BreakerParams{QueueDepth: 1, MaxConcurrency: 1, InitialCapacity: 2}, "InitialCapacity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				s, _ := r.(string)
				if !strings.HasPrefix(s, "queue: ") || !strings.Contains(s, tc.want) {
					t.Errorf("panic = %v, want a message with prefix %q naming %s", r, "queue: ", tc.want)
				}
			}()
			NewBreaker(tc.p)
		})
	}
}

// holdN starts n Maybe calls that block inside the thunk (or in the queue) until
// release is closed. It returns a func that closes release and waits for all of them,
// returning their errors.
func holdN(b *Breaker, n int, running *atomic.Int64) (release func() []error) {
	gate := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = b.Maybe(context.Background(), func() {
				running.Add(1)
				<-gate
			})
		})
	}
	return func() []error {
		close(gate)
		wg.Wait()
		return errs
	}
}

func TestBreakerQueueFull(t *testing.T) {
	b := NewBreaker(BreakerParams{QueueDepth: 3, MaxConcurrency: 2, InitialCapacity: 2})
	var running atomic.Int64
	release := holdN(b, 5, &running)
	waitFor(t, "2 running and 3 waiting", func() bool { return running.Load() == 2 && b.numWaiters() == 3 })
	if got := b.InFlight(); got != 5 {
		t.Errorf("InFlight() = %d, want 5", got)
	}
	ran := false
	if err := b.Maybe(context.Background(), func() { ran = true }); !errors.Is(err, ErrRequestQueueFull) || ran {
		t.Errorf("Maybe on a full breaker = %v (ran %v), want ErrRequestQueueFull without running", err, ran)
	}
	if _, ok := b.Reserve(context.Background()); ok {
		t.Error("Reserve on a full breaker succeeded")
	}
	for i, err := range release() {
		if err != nil {
			t.Errorf("Maybe #%d = %v, want nil", i, err)
		}
	}
	if got := running.Load(); got != 5 {
		t.Errorf("thunks run = %d, want 5", got)
	}
	if got := b.InFlight(); got != 0 {
		t.Errorf("InFlight() after all = %d, want 0", got)
	}
}

func TestBreakerFIFO(t *testing.T) {
	b := NewBreaker(BreakerParams{QueueDepth: 10, MaxConcurrency: 1, InitialCapacity: 1})
	hold, ok := b.Reserve(context.Background())
	if !ok {
		t.Fatal("Reserve on an empty breaker failed")
	}
	var (
		mu    sync.Mutex
		order []int
		wg    sync.WaitGroup
	)
	const n = 5
	for i := range n {
		wg.Go(func() {
			if err := b.Maybe(context.Background(), func() {
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
			}); err != nil {
				t.Errorf("Maybe #%d = %v", i, err)
			}
		})
		waitFor(t, "waiter to queue", func() bool { return b.numWaiters() == i+1 })
	}
	// A newcomer must not overtake the waiters, even though it arrives as a slot frees.
	if _, ok := b.Reserve(context.Background()); ok {
		t.Error("Reserve overtook waiters")
	}
	hold()
	wg.Wait()
	if diff := cmp.Diff([]int{0, 1, 2, 3, 4}, order); diff != "" {
		t.Errorf("run order (-want +got):\n%s", diff)
	}
}

func TestBreakerContextWhileWaiting(t *testing.T) {
	tests := []struct {
		name   string
		ctx    func() (context.Context, context.CancelFunc)
		cancel bool
		want   error
	}{
		{"cancelled", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, true, context.Canceled},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 1) // expires at once
		}, false, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBreaker(BreakerParams{QueueDepth: 2, MaxConcurrency: 1, InitialCapacity: 1})
			hold, _ := b.Reserve(context.Background())
			ctx, cancel := tc.ctx()
			defer cancel()
			errc := make(chan error)
			go func() { errc <- b.Maybe(ctx, func() { t.Error("thunk ran") }) }()
			if tc.cancel {
				waitFor(t, "waiter to queue", func() bool { return b.numWaiters() == 1 })
				cancel()
			}
			if err := <-errc; !errors.Is(err, tc.want) {
				t.Errorf("Maybe = %v, want %v", err, tc.want)
			}
			if got, want := b.InFlight(), 1; got != want {
				t.Errorf("InFlight() = %d, want %d (only the reservation)", got, want)
			}
			if got := b.numWaiters(); got != 0 {
				t.Errorf("waiters = %d, want 0", got)
			}
			hold()
			// The breaker is back to normal: a slot is free again.
			rel, ok := b.Reserve(context.Background())
			if !ok {
				t.Fatal("Reserve after cancellation failed")
			}
			rel()
		})
	}
}

func TestBreakerMaybeRunsWithDoneContextWhenFree(t *testing.T) {
	// Knative semantics: ctx is only consulted while waiting.
	b := NewBreaker(BreakerParams{QueueDepth: 1, MaxConcurrency: 1, InitialCapacity: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if err := b.Maybe(ctx, func() { ran = true }); err != nil || !ran {
		t.Errorf("Maybe = %v, ran = %v; want nil, true", err, ran)
	}
}

func TestBreakerUpdateConcurrency(t *testing.T) {
	b := NewBreaker(BreakerParams{QueueDepth: 10, MaxConcurrency: 5, InitialCapacity: 0})
	var running atomic.Int64
	release := holdN(b, 4, &running)
	waitFor(t, "4 waiters", func() bool { return b.numWaiters() == 4 })
	if got := running.Load(); got != 0 {
		t.Fatalf("running with capacity 0 = %d", got)
	}

	b.UpdateConcurrency(3)
	waitFor(t, "3 running", func() bool { return running.Load() == 3 })
	if got := b.numWaiters(); got != 1 {
		t.Errorf("waiters after growing to 3 = %d, want 1", got)
	}

	// Shrinking below the running count keeps them running; the waiter still waits.
	b.UpdateConcurrency(2)
	if got := b.Capacity(); got != 2 {
		t.Errorf("Capacity() = %d, want 2", got)
	}
	if got := b.numWaiters(); got != 1 {
		t.Errorf("waiters after shrinking = %d, want 1", got)
	}
	if got := running.Load(); got != 3 {
		t.Errorf("running after shrinking = %d, want 3", got)
	}
	for _, err := range release() {
		if err != nil {
			t.Errorf("Maybe = %v", err)
		}
	}
	if got := running.Load(); got != 4 {
		t.Errorf("thunks run = %d, want 4", got)
	}
}

func TestBreakerUpdateConcurrencyClamps(t *testing.T) {
	b := NewBreaker(BreakerParams{QueueDepth: 1, MaxConcurrency: 5, InitialCapacity: 1})
	steps := []struct{ set, want int }{{100, 5}, {-3, 0}, {2, 2}, {5, 5}}
	for _, s := range steps {
		b.UpdateConcurrency(s.set)
		if got := b.Capacity(); got != s.want {
			t.Errorf("UpdateConcurrency(%d): Capacity() = %d, want %d", s.set, got, s.want)
		}
	}
}

func TestBreakerReserve(t *testing.T) {
	b := NewBreaker(BreakerParams{QueueDepth: 1, MaxConcurrency: 2, InitialCapacity: 2})
	r1, ok1 := b.Reserve(context.Background())
	r2, ok2 := b.Reserve(context.Background())
	_, ok3 := b.Reserve(context.Background())
	if diff := cmp.Diff([]bool{true, true, false}, []bool{ok1, ok2, ok3}); diff != "" {
		t.Errorf("Reserve results (-want +got):\n%s", diff)
	}
	if got := b.InFlight(); got != 2 {
		t.Errorf("InFlight() = %d, want 2", got)
	}
	r1()
	r2()
	if got := b.InFlight(); got != 0 {
		t.Errorf("InFlight() after release = %d, want 0", got)
	}
}

func TestBreakerReleaseWithoutAcquirePanics(t *testing.T) {
	b := NewBreaker(BreakerParams{QueueDepth: 1, MaxConcurrency: 1, InitialCapacity: 1})
	defer func() {
		if r := recover(); r == nil {
			t.Error("release without acquire did not panic")
		}
	}()
	b.release()
}

// TestBreakerNeverExceedsCapacity hammers the breaker from many goroutines, with
// capacity changes and cancellations, and checks the limit is never exceeded.
func TestBreakerNeverExceedsCapacity(t *testing.T) {
	const maxConc = 3
	b := NewBreaker(BreakerParams{QueueDepth: 1000, MaxConcurrency: maxConc, InitialCapacity: maxConc})
	var (
		cur, peak atomic.Int64
		wg        sync.WaitGroup
	)
	for g := range 32 {
		wg.Go(func() {
			for i := range 200 {
				ctx, cancel := context.WithCancel(context.Background())
				if (g+i)%7 == 0 {
					cancel()
				}
				_ = b.Maybe(ctx, func() {
					n := cur.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					cur.Add(-1)
				})
				cancel()
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > maxConc {
		t.Errorf("peak concurrency = %d, want <= %d", p, maxConc)
	}
	if got := b.InFlight(); got != 0 {
		t.Errorf("InFlight() = %d, want 0", got)
	}
	if s := b.state.Load(); s&inUseMask != 0 || s&waitersFlag != 0 {
		t.Errorf("state = %#x, want no slot in use and no waiters", s)
	}
}

func BenchmarkBreakerMaybe(b *testing.B) {
	ctx := context.Background()
	thunk := func() {}
	b.Run("uncontended", func(b *testing.B) {
		br := NewBreaker(BreakerParams{QueueDepth: 10, MaxConcurrency: 1, InitialCapacity: 1})
		b.ReportAllocs()
		for b.Loop() {
			_ = br.Maybe(ctx, thunk)
		}
	})
	for _, conc := range []int{1, 10, 1000} {
		b.Run("parallel/capacity="+itoa(conc), func(b *testing.B) {
			br := NewBreaker(BreakerParams{QueueDepth: 100000, MaxConcurrency: conc, InitialCapacity: conc})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_ = br.Maybe(ctx, thunk)
				}
			})
		})
	}
}

func BenchmarkBreakerReserve(b *testing.B) {
	br := NewBreaker(BreakerParams{QueueDepth: 10, MaxConcurrency: 1, InitialCapacity: 1})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if rel, ok := br.Reserve(ctx); ok {
			rel()
		}
	}
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

// BenchmarkChannelSemaphore is the simple alternative the Breaker is measured
// against: a buffered channel as a counting semaphore (no queue limit, no FIFO
// guarantee, no capacity changes).
func BenchmarkChannelSemaphore(b *testing.B) {
	thunk := func() {}
	for _, conc := range []int{1, 1000} {
		b.Run("parallel/capacity="+itoa(conc), func(b *testing.B) {
			sem := make(chan struct{}, conc)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					sem <- struct{}{}
					thunk()
					<-sem
				}
			})
		})
	}
}
