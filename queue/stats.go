package queue

import (
	"encoding/binary"
	"math"
	"sync"
	"time"
)

// Stat is one report for the autoscaler: Knative's protobuf message
// `metrics.Stat` (autoscaler/metrics/stat.proto) as a plain value. AppendProto
// encodes it in the protobuf wire format, field numbers as in Knative, so Knative's
// autoscaler and servekit's scrape it alike.
type Stat struct {
	// PodName identifies the reporter (field 1); the proxy uses ProxyOptions.PodName.
	PodName string
	// AverageConcurrentRequests is the time-weighted average number of requests in
	// flight over the period (field 2): two requests of 500 ms in one second give 1.0.
	AverageConcurrentRequests float64
	// AverageProxiedConcurrentRequests is the part of AverageConcurrentRequests that
	// came through the activator (field 3).
	AverageProxiedConcurrentRequests float64
	// RequestCount is the number of requests that arrived in the period, per second
	// (field 4).
	RequestCount float64
	// ProxiedRequestCount is the part of RequestCount that came through the activator
	// (field 5).
	ProxiedRequestCount float64
	// ProcessUptime is the reporter's age in seconds (field 6).
	ProcessUptime float64
	// Timestamp is Unix seconds (field 7); the proxy leaves it 0 as Knative's does,
	// and the autoscaler stamps the time of receipt.
	Timestamp int64
}

// StatContentType is the Content-Type of an encoded Stat, the exact string Knative's
// scraper requires.
const StatContentType = "application/protobuf"

// AppendProto appends the protobuf encoding of s to b and returns the result. Fields
// with zero values are omitted, as proto3 does.
func (s Stat) AppendProto(b []byte) []byte {
	if s.PodName != "" {
		b = append(b, 1<<3|2) // field 1, length-delimited
		b = binary.AppendUvarint(b, uint64(len(s.PodName)))
		b = append(b, s.PodName...)
	}
	for i, v := range [...]float64{
		s.AverageConcurrentRequests,
		s.AverageProxiedConcurrentRequests,
		s.RequestCount,
		s.ProxiedRequestCount,
		s.ProcessUptime,
	} {
		if v == 0 && !math.Signbit(v) {
			continue
		}
		b = append(b, byte(i+2)<<3|1) // fields 2..6, 64-bit
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	if s.Timestamp != 0 {
		b = append(b, 7<<3) // field 7, varint (wire type 0)
		b = binary.AppendUvarint(b, uint64(s.Timestamp))
	}
	return b
}

// Stats integrates request concurrency over time, as Knative's RequestStats do
// (dataplane.md §2.9): every event first adds concurrency × (event time − last event)
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
func (s *Stats) Report(now time.Time) Stat {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.integrateLocked(now)
	m := &s.mu
	st := Stat{RequestCount: float64(m.count), ProxiedRequestCount: float64(m.proxied)}
	if m.secondsInWindow > 0 {
		st.AverageConcurrentRequests = m.integral / m.secondsInWindow
		st.AverageProxiedConcurrentRequests = m.proxiedIntegral / m.secondsInWindow
	}
	m.count, m.proxied = 0, 0
	m.integral, m.proxiedIntegral, m.secondsInWindow = 0, 0, 0
	return st
}
