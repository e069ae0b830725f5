package queue

import (
	"sync"
	"time"

	"github.com/servekit/servekit/autoscaler/metrics"
)

// Stats integrates request concurrency over time, as Knative's RequestStats do
// (knative.dev/networking/pkg/http/stats/request.go): every event first adds concurrency × (event time − last event)
// to the window's integral, Report divides the integral by the time observed and
// starts a new window. Proxied requests (through the activator) are a subset: they are
// counted in both the totals and the proxied parts. Times are passed in, never read
// from a clock, so reports are exact and testable. The zero value is ready to use;
// Stats is safe for concurrent use.
type Stats struct {
	mu struct {
		sync.Mutex
		started         bool      // set by the first event or report
		last            time.Time // time of the last event or report
		concurrency     int64
		proxiedConc     int64
		count, proxied  int64   // requests that arrived in this window
		integral        float64 // ∫ concurrency dt, in request·seconds
		proxiedIntegral float64
		secondsInWindow float64
	}
}

// integrateLocked advances the window to now. Events out of order (now before the
// last event) do not integrate and do not move time back.
func (s *Stats) integrateLocked(now time.Time) {
	m := &s.mu
	if !m.started {
		m.started = true
		m.last = now
		return
	}
	if !now.After(m.last) {
		return
	}
	d := now.Sub(m.last).Seconds()
	m.integral += float64(m.concurrency) * d
	m.proxiedIntegral += float64(m.proxiedConc) * d
	m.secondsInWindow += d
	m.last = now
}

// In records a request that arrived at now; proxied says it came through the activator.
func (s *Stats) In(now time.Time, proxied bool) {
	s.mu.Lock()
	s.integrateLocked(now)
	s.mu.concurrency++
	s.mu.count++
	if proxied {
		s.mu.proxiedConc++
		s.mu.proxied++
	}
	s.mu.Unlock()
}

// Out records a request, counted by In with the same proxied value, that finished at now.
func (s *Stats) Out(now time.Time, proxied bool) {
	s.mu.Lock()
	s.integrateLocked(now)
	s.mu.concurrency--
	if proxied {
		s.mu.proxiedConc--
	}
	s.mu.Unlock()
}

// Report closes the window at now and returns its averages and raw request counts
// (PodName, ProcessUptime and Timestamp are left for the caller). Requests still in
// flight carry over into the next window. A window in which no time passed reports
// zero concurrency.
func (s *Stats) Report(now time.Time) metrics.Stat {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.integrateLocked(now)
	m := &s.mu
	st := metrics.Stat{RequestCount: float64(m.count), ProxiedRequestCount: float64(m.proxied)}
	if m.secondsInWindow > 0 {
		st.AverageConcurrentRequests = m.integral / m.secondsInWindow
		st.AverageProxiedConcurrentRequests = m.proxiedIntegral / m.secondsInWindow
	}
	m.count, m.proxied = 0, 0
	m.integral, m.proxiedIntegral, m.secondsInWindow = 0, 0, 0
	return st
}
