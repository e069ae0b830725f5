package queue

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/servekit/servekit/autoscaler/metrics"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return epoch.Add(time.Duration(ms) * time.Millisecond) }

func TestStatsReport(t *testing.T) {
	type event struct {
		ms      int
		in      bool // In if true, Out otherwise
		proxied bool
	}
	tests := []struct {
		name     string
		events   []event
		reportAt int
		want     metrics.Stat
	}{{
		name:     "two sequential requests of 500 ms in one second",
		events:   []event{{0, true, false}, {500, false, false}, {500, true, false}, {1000, false, false}},
		reportAt: 1000,
		want:     metrics.Stat{AverageConcurrentRequests: 1, RequestCount: 2},
	}, {
		name:     "two overlapping requests of 500 ms",
		events:   []event{{0, true, false}, {0, true, false}, {500, false, false}, {500, false, false}},
		reportAt: 1000,
		want:     metrics.Stat{AverageConcurrentRequests: 1, RequestCount: 2},
	}, {
		name:     "one proxied of two",
		events:   []event{{0, true, true}, {0, true, false}, {1000, false, true}},
		reportAt: 1000,
		want:     metrics.Stat{AverageConcurrentRequests: 2, AverageProxiedConcurrentRequests: 1, RequestCount: 2, ProxiedRequestCount: 1},
	}, {
		name:     "request still running is counted for the time observed",
		events:   []event{{250, true, false}},
		reportAt: 1000,
		want:     metrics.Stat{AverageConcurrentRequests: 0.75, RequestCount: 1},
	}, {
		name:     "out of order event does not integrate",
		events:   []event{{500, true, false}, {400, false, false}},
		reportAt: 1000,
		want:     metrics.Stat{AverageConcurrentRequests: 0, RequestCount: 1},
	}, {
		name:     "no traffic",
		reportAt: 1000,
		want:     metrics.Stat{},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s Stats
			s.Report(at(0)) // window starts at 0
			for _, e := range tc.events {
				if e.in {
					s.In(at(e.ms), e.proxied)
				} else {
					s.Out(at(e.ms), e.proxied)
				}
			}
			if diff := cmp.Diff(tc.want, s.Report(at(tc.reportAt))); diff != "" {
				t.Errorf("Report (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatsCarryOver(t *testing.T) {
	var s Stats
	s.Report(at(0))
	s.In(at(500), false)
	steps := []struct {
		ms   int
		want metrics.Stat
	}{
		{1000, metrics.Stat{AverageConcurrentRequests: 0.5, RequestCount: 1}},
		{2000, metrics.Stat{AverageConcurrentRequests: 1}}, // still running, arrived earlier
	}
	for _, st := range steps {
		if diff := cmp.Diff(st.want, s.Report(at(st.ms))); diff != "" {
			t.Errorf("Report at %d ms (-want +got):\n%s", st.ms, diff)
		}
	}
	s.Out(at(2500), false)
	if diff := cmp.Diff(metrics.Stat{AverageConcurrentRequests: 0.5}, s.Report(at(3000))); diff != "" {
		t.Errorf("Report at 3000 ms (-want +got):\n%s", diff)
	}
}

func BenchmarkStats(b *testing.B) {
	var s Stats
	b.ReportAllocs()
	now := epoch
	for b.Loop() {
		s.In(now, false)
		s.Out(now, false)
	}
}
