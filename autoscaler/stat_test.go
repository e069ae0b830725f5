package autoscaler

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
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
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s Stat
			if err := s.UnmarshalBinary(tc.in); !errors.Is(err, ErrBadStat) {
				t.Errorf("UnmarshalBinary(% x) = %v, want ErrBadStat", tc.in, err)
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
