package activator

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// Tracker counts this activator's requests in flight to one pod and, when the
// revision has a containerConcurrency, refuses more than that many. Trackers for pods
// that survive an endpoints update are kept, so their reservations persist.
type Tracker struct {
	addr     string
	capacity atomic.Int64 // 0: unlimited
	inFlight atomic.Int64
	// orphaned is set while the tracker is out of its revision's assigned pods but still
	// has requests in flight (see revision.orphans).
	orphaned atomic.Bool
}

// NewTracker returns a Tracker for the pod at addr that admits capacity requests at
// once; capacity 0 means unlimited.
func NewTracker(addr string, capacity int) *Tracker {
	t := &Tracker{addr: addr}
	t.capacity.Store(int64(max(capacity, 0)))
	return t
}

// Addr returns the pod's address (host:port).
func (t *Tracker) Addr() string { return t.addr }

// InFlight returns the number of reservations held.
func (t *Tracker) InFlight() int { return int(t.inFlight.Load()) }

// SetCapacity changes the capacity; 0 means unlimited. Reservations already held are
// kept even when they exceed the new capacity.
func (t *Tracker) SetCapacity(n int) { t.capacity.Store(int64(max(n, 0))) }

// TryReserve takes one reservation if the pod has room and reports whether it did.
// Each successful TryReserve must be followed by one Release.
func (t *Tracker) TryReserve() bool {
	for {
		c := t.capacity.Load()
		n := t.inFlight.Load()
		if c > 0 && n >= c {
			return false
		}
		if t.inFlight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release gives back one reservation.
func (t *Tracker) Release() { t.inFlight.Add(-1) }

// Policy picks a pod among the candidates (sorted by address), reserves it with
// TryReserve and returns it; nil when none has room. The caller Releases the tracker.
// A Policy is called concurrently.
type Policy func(candidates []*Tracker) *Tracker

// PolicyFor returns the policy Knative uses for a containerConcurrency: cc 0 →
// RandomChoiceOfTwo, 1–3 → FirstAvailable, above → RoundRobin.
func PolicyFor(cc int) Policy {
	switch {
	case cc <= 0:
		return RandomChoiceOfTwo(nil)
	case cc <= 3:
		return FirstAvailable
	default:
		return RoundRobin()
	}
}

// FirstAvailable reserves the first candidate, in order, that has room. It packs load
// onto the lowest pods on purpose: with a small containerConcurrency each pod fills
// completely before the next takes any, which keeps the others free for bursts.
func FirstAvailable(candidates []*Tracker) *Tracker {
	for _, t := range candidates {
		if t.TryReserve() {
			return t
		}
	}
	return nil
}

// RoundRobin returns a policy that tries the candidates in turn starting after the one
// it chose last, wrapping around, and reserves the first with room. The cursor is
// reset when the list shrank below it. Each revision needs its own RoundRobin.
func RoundRobin() Policy {
	var (
		mu  sync.Mutex // guards idx
		idx int
	)
	return func(candidates []*Tracker) *Tracker {
		mu.Lock()
		defer mu.Unlock()
		n := len(candidates)
		if idx >= n {
			idx = 0
		}
		for i := range n {
			j := (idx + i) % n
			if candidates[j].TryReserve() {
				idx = j + 1
				return candidates[j]
			}
		}
		return nil
	}
}

// RandomChoiceOfTwo returns the policy for containerConcurrency 0: pick two distinct
// candidates at random and reserve the one with fewer requests in flight from this
// activator (a tie is a coin flip). intn returns a number in [0, n); nil means
// math/rand/v2's IntN. It must be safe for concurrent use.
func RandomChoiceOfTwo(intn func(n int) int) Policy {
	if intn == nil {
		intn = rand.IntN
	}
	return func(candidates []*Tracker) *Tracker {
		switch len(candidates) {
		case 0:
			return nil
		case 1:
			if t := candidates[0]; t.TryReserve() {
				return t
			}
			return nil
		}
		i, j := 0, 1
		if n := len(candidates); n > 2 {
			i = intn(n)
			j = intn(n - 1)
			if j >= i {
				j++
			}
		}
		a, b := candidates[i], candidates[j]
		wa, wb := a.InFlight(), b.InFlight()
		if wb < wa || (wa == wb && intn(2) == 1) {
			a, b = b, a
		}
		if a.TryReserve() {
			return a
		}
		if b.TryReserve() {
			return b
		}
		return nil
	}
}

// assignSlice returns the pods (sorted) this activator uses when count activators share
// the revision and this one is number index (Knative's activator subsetting): each
// gets an equal contiguous slice and the remainder is dealt one each to the first
// activators; with more activators than pods each uses exactly one pod. index < 0
// (unknown), count <= 1 or a single pod: all pods.
func assignSlice[T any](pods []T, index, count int) []T {
	n := len(pods)
	if index < 0 || count <= 1 || n <= 1 {
		return pods
	}
	index %= count
	if count > n {
		return pods[index%n : index%n+1]
	}
	size := n / count
	out := make([]T, 0, size+1)
	out = append(out, pods[index*size:index*size+size]...)
	if rem := n % count; index < rem {
		out = append(out, pods[n-rem+index])
	}
	return out
}
