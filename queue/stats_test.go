package queue

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"
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
		want     Stat
	}{{
		name:     "two sequential requests of 500 ms in one second",
		events:   []event{{0, true, false}, {500, false, false}, {500, true, false}, {1000, false, false}},
		reportAt: 1000,
		want:     Stat{AverageConcurrentRequests: 1, RequestCount: 2},
	}, {
		name:     "two overlapping requests of 500 ms",
		events:   []event{{0, true, false}, {0, true, false}, {500, false, false}, {500, false, false}},
		reportAt: 1000,
		want:     Stat{AverageConcurrentRequests: 1, RequestCount: 2},
	}, {
		name:     "one proxied of two",
		events:   []event{{0, true, true}, {0, true, false}, {1000, false, true}},
		reportAt: 1000,
		want:     Stat{AverageConcurrentRequests: 2, AverageProxiedConcurrentRequests: 1, RequestCount: 2, ProxiedRequestCount: 1},
	}, {
		name:     "request still running is counted for the time observed",
		events:   []event{{250, true, false}},
		reportAt: 1000,
		want:     Stat{AverageConcurrentRequests: 0.75, RequestCount: 1},
	}, {
		name:     "out of order event does not integrate",
		events:   []event{{500, true, false}, {400, false, false}},
		reportAt: 1000,
		want:     Stat{AverageConcurrentRequests: 0, RequestCount: 1},
	}, {
		name:     "no traffic",
		reportAt: 1000,
		want:     Stat{},
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
		want Stat
	}{
		{1000, Stat{AverageConcurrentRequests: 0.5, RequestCount: 1}},
		{2000, Stat{AverageConcurrentRequests: 1}}, // still running, arrived earlier
	}
	for _, st := range steps {
		if diff := cmp.Diff(st.want, s.Report(at(st.ms))); diff != "" {
			t.Errorf("Report at %d ms (-want +got):\n%s", st.ms, diff)
		}
	}
	s.Out(at(2500), false)
	if diff := cmp.Diff(Stat{AverageConcurrentRequests: 0.5}, s.Report(at(3000))); diff != "" {
		t.Errorf("Report at 3000 ms (-want +got):\n%s", diff)
	}
}

// decodeStat is an independent decoder (google.golang.org/protobuf's protowire) used
// to check AppendProto.
func decodeStat(t *testing.T, b []byte) Stat {
	t.Helper()
	var s Stat
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, n := protowire.ConsumeString(b)
			if n < 0 {
				t.Fatal("bad string")
			}
			s.PodName, b = v, b[n:]
		case num >= 2 && num <= 6 && typ == protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				t.Fatal("bad fixed64")
			}
			f := math.Float64frombits(v)
			*[]*float64{&s.AverageConcurrentRequests, &s.AverageProxiedConcurrentRequests, &s.RequestCount, &s.ProxiedRequestCount, &s.ProcessUptime}[num-2] = f
			b = b[n:]
		case num == 7 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				t.Fatal("bad varint")
			}
			s.Timestamp, b = int64(v), b[n:]
		default:
			t.Fatalf("unexpected field %d type %d", num, typ)
		}
	}
	return s
}

func TestStatAppendProto(t *testing.T) {
	tests := []struct {
		name string
		stat Stat
	}{
		{"empty", Stat{}},
		{"pod only", Stat{PodName: "helloworld-00001-deployment-abc"}},
		{"all fields", Stat{PodName: "p", AverageConcurrentRequests: 1.5, AverageProxiedConcurrentRequests: 0.25,
			RequestCount: 10, ProxiedRequestCount: 3, ProcessUptime: 12345.5, Timestamp: 1767225600}},
		{"negative timestamp", Stat{Timestamp: -1}},
		{"long pod name", Stat{PodName: string(make([]byte, 300))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.stat.AppendProto(nil)
			if diff := cmp.Diff(tc.stat, decodeStat(t, b)); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
	// Golden bytes: pod "p", concurrency 1.0.
	got := Stat{PodName: "p", AverageConcurrentRequests: 1}.AppendProto(nil)
	want := []byte{0x0a, 0x01, 'p', 0x11, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("golden encoding (-want +got):\n%s", diff)
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
