package metrics

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"
)

// hexBytes is a readable way to write wire bytes in a table.
func hexBytes(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestStatUnmarshalHandBuilt(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want Stat
	}{{
		name: "every field",
		in: hexBytes(
			[]byte{0x0a, 5}, []byte("pod-a"), // 1: pod_name
			[]byte{0x11, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f}, // 2: 1.5
			[]byte{0x19, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f}, // 3: 0.5
			[]byte{0x21, 0, 0, 0, 0, 0, 0, 0x5e, 0x40}, // 4: 120
			[]byte{0x29, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f}, // 5: 0.5
			[]byte{0x31, 0, 0, 0, 0, 0, 0, 0x5e, 0x40}, // 6: 120
			[]byte{0x38, 0x80, 0xe2, 0xcf, 0xaa, 0x06}, // 7: 1700000000
		),
		want: Stat{PodName: "pod-a", AverageConcurrentRequests: 1.5, AverageProxiedConcurrentRequests: 0.5,
			RequestCount: 120, ProxiedRequestCount: 0.5, ProcessUptime: 120, Timestamp: 1700000000},
	}, {
		name: "empty message is a zero stat",
		in:   nil,
		want: Stat{},
	}, {
		name: "only the pod name (a queue proxy before its first report)",
		in:   hexBytes([]byte{0x0a, 3}, []byte("q-1")),
		want: Stat{PodName: "q-1"},
	}, {
		name: "unknown fields of every wire type are skipped",
		in: hexBytes(
			[]byte{0x48, 0x96, 0x01},             // 9: varint 150
			[]byte{0x55, 1, 2, 3, 4},             // 10: fixed32
			[]byte{0x59, 1, 2, 3, 4, 5, 6, 7, 8}, // 11: fixed64
			[]byte{0x62, 2, 'h', 'i'},            // 12: bytes
			[]byte{0x11, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f},
		),
		want: Stat{AverageConcurrentRequests: 1.5},
	}, {
		name: "last value wins",
		in:   hexBytes([]byte{0x38, 1}, []byte{0x38, 2}),
		want: Stat{Timestamp: 2},
	}, {
		name: "negative timestamp is a 10-byte varint",
		in:   hexBytes([]byte{0x38}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}),
		want: Stat{Timestamp: -1},
	}, {
		name: "unknown group is skipped, as Knative's decoder does",
		in: hexBytes(
			[]byte{0x4b},       // 9: start group
			[]byte{0x50, 0x01}, //   10: varint 1
			[]byte{0x4c},       // 9: end group
			[]byte{0x0a, 1}, []byte("p"),
		),
		want: Stat{PodName: "p"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got Stat
			if err := got.UnmarshalBinary(tc.in); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// Our encoder produces bytes that decode to the same stat.
			enc, _ := got.MarshalBinary()
			var back Stat
			if err := back.UnmarshalBinary(enc); err != nil || !cmp.Equal(got, back) {
				t.Errorf("round trip: %+v, %v", back, err)
			}
		})
	}
}

func TestStatMarshalIsCanonical(t *testing.T) {
	got, _ := Stat{PodName: "pod-a", AverageConcurrentRequests: 1.5, Timestamp: 1700000000}.MarshalBinary()
	want := hexBytes([]byte{0x0a, 5}, []byte("pod-a"), []byte{0x11, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f},
		[]byte{0x38, 0x80, 0xe2, 0xcf, 0xaa, 0x06})
	if !bytes.Equal(got, want) {
		t.Errorf("MarshalBinary = % x, want % x", got, want)
	}
}

// TestStatAppendProtoGolden pins the bytes Knative's generated encoder
// (knative.dev/serving/pkg/autoscaler/metrics/stat.pb.go) produces: fields in number
// order, zero values (a negative zero included: it compares with 0) omitted.
func TestStatAppendProtoGolden(t *testing.T) {
	tests := []struct {
		name string
		stat Stat
		want []byte
	}{{
		name: "pod p, concurrency 1.0 (the queue proxy's golden)",
		stat: Stat{PodName: "p", AverageConcurrentRequests: 1},
		want: []byte{0x0a, 0x01, 'p', 0x11, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f},
	}, {
		name: "every field",
		stat: Stat{PodName: "pod-a", AverageConcurrentRequests: 1.5, AverageProxiedConcurrentRequests: 0.5,
			RequestCount: 120, ProxiedRequestCount: 0.5, ProcessUptime: 120, Timestamp: 1700000000},
		want: hexBytes(
			[]byte{0x0a, 5}, []byte("pod-a"),
			[]byte{0x11, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f},
			[]byte{0x19, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f},
			[]byte{0x21, 0, 0, 0, 0, 0, 0, 0x5e, 0x40},
			[]byte{0x29, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f},
			[]byte{0x31, 0, 0, 0, 0, 0, 0, 0x5e, 0x40},
			[]byte{0x38, 0x80, 0xe2, 0xcf, 0xaa, 0x06},
		),
	}, {
		name: "empty",
		stat: Stat{},
		want: nil,
	}, {
		name: "negative zero is omitted",
		stat: Stat{AverageConcurrentRequests: math.Copysign(0, -1), RequestCount: 2},
		want: []byte{0x21, 0, 0, 0, 0, 0, 0, 0, 0x40},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.stat.AppendProto(nil)); diff != "" {
				t.Errorf("AppendProto (-want +got):\n%s", diff)
			}
			prefix := []byte("x")
			if got := tc.stat.AppendProto(prefix); !bytes.Equal(got, append(prefix, tc.want...)) {
				t.Errorf("AppendProto(%q) = % x, want the encoding appended", prefix, got)
			}
		})
	}
}

// decodeIndependently decodes with protowire alone, field by field, to check
// AppendProto against a decoder that shares no code with UnmarshalBinary.
func decodeIndependently(t *testing.T, b []byte) Stat {
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

func TestStatAppendProtoRoundTrip(t *testing.T) {
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
			if diff := cmp.Diff(tc.stat, decodeIndependently(t, b)); diff != "" {
				t.Errorf("protowire decode (-want +got):\n%s", diff)
			}
			var got Stat
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.stat, got); diff != "" {
				t.Errorf("UnmarshalBinary (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatUnmarshalErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"truncated double", []byte{0x11, 0, 0, 0}},
		{"wrong wire type for a double", []byte{0x10, 0x01}},
		{"wrong wire type for pod_name", []byte{0x09, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"length past the end", []byte{0x0a, 10, 'a'}},
		{"truncated varint", []byte{0x38, 0x80}},
		{"group wire type", []byte{0x0b}},
		{"field number 0", []byte{0x00, 0x01}},
		{"truncated tag", []byte{0x80}},
		{"truncated fixed32", []byte{0x55, 1}},
		{"end group outside a group", []byte{0x4c}},
		{"unterminated unknown group", []byte{0x4b, 0x48, 0x01}},
		{"reserved wire type 6", []byte{0x4e}},
		{"truncated unknown bytes", []byte{0x62, 5, 'h'}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s Stat
			s.PodName = "stale"
			if err := s.UnmarshalBinary(tc.in); !errors.Is(err, ErrBadStat) {
				t.Errorf("UnmarshalBinary(% x) = %v, want ErrBadStat", tc.in, err)
			}
			if s != (Stat{}) {
				t.Errorf("UnmarshalBinary(% x) left %+v, want a zero Stat", tc.in, s)
			}
		})
	}
}

func FuzzStatUnmarshal(f *testing.F) {
	f.Add([]byte{0x0a, 5, 'p', 'o', 'd', '-', 'a', 0x11, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f})
	f.Add([]byte{0x38, 0x80, 0xe2, 0xcf, 0xaa, 0x06})
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Stat
		if err := s.UnmarshalBinary(b); err != nil {
			return
		}
		enc, _ := s.MarshalBinary()
		var back Stat
		if err := back.UnmarshalBinary(enc); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		same := func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }
		if back.PodName != s.PodName || back.Timestamp != s.Timestamp ||
			!same(back.AverageConcurrentRequests, s.AverageConcurrentRequests) ||
			!same(back.RequestCount, s.RequestCount) || !same(back.ProcessUptime, s.ProcessUptime) {
			t.Fatalf("round trip %+v → %+v", s, back)
		}
	})
}

// benchStat is a typical queue proxy report: a Kubernetes pod name and every double.
var benchStat = Stat{PodName: "helloworld-00001-deployment-7d4b9c8f6d-x2x7q", AverageConcurrentRequests: 1.5,
	AverageProxiedConcurrentRequests: 0.5, RequestCount: 12, ProxiedRequestCount: 3, ProcessUptime: 3600.25}

func BenchmarkStatAppendProto(b *testing.B) {
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = benchStat.AppendProto(buf[:0])
	}
}

func BenchmarkStatUnmarshalBinary(b *testing.B) {
	enc := benchStat.AppendProto(nil)
	var s Stat
	b.ReportAllocs()
	for b.Loop() {
		if err := s.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}
