package activator

import (
	"sync"
	"time"
)

// StatSink receives per-revision load as measured by this activator: the
// time-weighted average number of requests in the activator (waiting or proxied) over
// the reporting period, and how many arrived in it. The arguments are plain values so
// an autoscaler can implement it without importing this package.
//
// RecordStat is called once per active revision every report interval (Knative: 1 s)
// from the Throttler's Run goroutine, and once more, at once, from the request's own
// goroutine for the first request to a cold revision (the "poke", concurrency 1,
// requestCount 1, discounted from the next regular report) so that scale-from-zero
// need not wait for a tick. It must not block for long; it is called concurrently.
type StatSink interface {
	RecordStat(namespace, name string, at time.Time, concurrency, requestCount float64)
}

// StatSinkFunc adapts a function to StatSink.
type StatSinkFunc func(namespace, name string, at time.Time, concurrency, requestCount float64)

// RecordStat calls f.
func (f StatSinkFunc) RecordStat(namespace, name string, at time.Time, concurrency, requestCount float64) {
	f(namespace, name, at, concurrency, requestCount)
}

// revStats measures one revision's concurrency, time-weighted, and its arrivals.
type revStats struct {
	mu sync.Mutex // guards every field
	// active is false for a cold revision: the next request pokes. It goes false after
	// a report period with no request at all.
	active      bool
	poked       bool // the poke is still to be discounted from the next report
	concurrency int
	lastChange  time.Time
	windowStart time.Time
	area        float64 // request-seconds since windowStart
	requests    int
}

func (s *revStats) advanceLocked(now time.Time) {
	if d := now.Sub(s.lastChange); d > 0 {
		s.area += float64(s.concurrency) * d.Seconds()
		s.lastChange = now
	}
}

// begin records an arrival and reports whether it is the first for a cold revision.
// The flag is flipped under the lock, so however many requests arrive together exactly
// one pokes; unlike a singleflight (which only merges calls that overlap) a second
// request arriving after the poke returned cannot poke again in the same cold start.
func (s *revStats) begin(now time.Time) (poke bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active {
		s.active, s.poked, poke = true, true, true
		s.windowStart, s.lastChange, s.area, s.requests = now, now, 0, 0
	}
	s.advanceLocked(now)
	s.concurrency++
	s.requests++
	return poke
}

func (s *revStats) end(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked(now)
	s.concurrency--
}

// report closes the period ending at now. ok is false for a cold revision (nothing to
// send). A period with no load at all (no arrival, nobody in the activator) makes the
// revision cold again.
func (s *revStats) report(now time.Time) (concurrency, count float64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active {
		return 0, 0, false
	}
	s.advanceLocked(now)
	if d := now.Sub(s.windowStart).Seconds(); d > 0 {
		concurrency = s.area / d
	} else {
		concurrency = float64(s.concurrency)
	}
	count = float64(s.requests)
	if s.poked {
		concurrency, count, s.poked = max(concurrency-1, 0), max(count-1, 0), false
	}
	if s.area == 0 && s.requests == 0 && s.concurrency == 0 {
		s.active = false
	}
	s.windowStart, s.lastChange, s.area, s.requests = now, now, 0, 0
	return concurrency, count, true
}
