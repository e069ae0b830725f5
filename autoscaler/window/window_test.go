package window

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// epoch is the fixed instant every test starts from (t = 0 s).
var epoch = time.Unix(1_700_000_000, 0)

func at(sec float64) time.Time { return epoch.Add(time.Duration(sec * float64(time.Second))) }

type step struct {
	record  bool
	at      float64 // seconds after epoch
	v       float64
	want    float64 // for reads
	comment string
}

func rec(at, v float64) step { return step{record: true, at: at, v: v} }
func avg(at, want float64, c string) step {
	return step{at: at, want: want, comment: c}
}

func TestTimedBucketsScript(t *testing.T) {
	tests := []struct {
		name   string
		window time.Duration
		steps  []step
	}{{
		name:   "warm-up divides by seconds since first write",
		window: 60 * time.Second,
		steps:  []step{rec(0, 10), avg(0, 10, "one sample of 10 is 10, not 10/60"), rec(1, 20), avg(1, 15, "")},
	}, {
		name:   "same-second records are summed",
		window: 6 * time.Second,
		steps:  []step{rec(0, 3), rec(0.5, 4), avg(0.9, 7, "3+4 in one second")},
	}, {
		name:   "gaps between writes are zeros",
		window: 6 * time.Second,
		steps:  []step{rec(0, 10), rec(2, 10), avg(2, 6.666667, "second 1 counts as 0: 20/3")},
	}, {
		name:   "silence after the last write shrinks the window",
		window: 6 * time.Second,
		steps: func() []step {
			var s []step
			for i := 0; i < 10; i++ {
				s = append(s, rec(float64(i), float64(i)))
			}
			return append(s,
				avg(9, 6.5, "seconds 4..9 = 39/6"),
				avg(11, 7.5, "seconds 6..9 = 30/4, not 30/6"),
				avg(14, 9, "only second 9 left"),
				avg(15, 0, "a whole window of silence is 0"),
			)
		}(),
	}, {
		name:   "record a window older than the newest data is dropped",
		window: 6 * time.Second,
		steps:  []step{rec(10, 6), rec(4, 100), avg(10, 6, "dropped"), rec(5, 6), avg(10, 2, "within the window: added, firstWrite moves back to 5")},
	}, {
		name:   "a gap of a whole window restarts warm-up",
		window: 6 * time.Second,
		steps:  []step{rec(0, 10), rec(1, 10), rec(7, 2), avg(7, 2, "")},
	}, {
		name:   "rounded to 6 decimals",
		window: 6 * time.Second,
		steps:  []step{rec(0, 1), rec(1, 1), rec(2, 0), avg(2, 0.666667, "2/3")},
	}, {
		name:   "sub-second instants truncate to the bucket",
		window: 6 * time.Second,
		steps:  []step{rec(0.99, 5), rec(1.01, 7), avg(1.5, 6, "")},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewTimedBuckets(tc.window)
			for i, s := range tc.steps {
				if s.record {
					b.Record(at(s.at), s.v)
					continue
				}
				if got := b.WindowAverage(at(s.at)); math.Abs(got-s.want) > 1e-9 {
					t.Errorf("step %d: WindowAverage(%vs) = %v, want %v (%s)", i, s.at, got, s.want, s.comment)
				}
			}
		})
	}
}

func TestTimedBucketsIsEmpty(t *testing.T) {
	b := NewTimedBuckets(6 * time.Second)
	b.Record(at(10), 1)
	got := []bool{b.IsEmpty(at(10)), b.IsEmpty(at(16)), b.IsEmpty(at(16.9)), b.IsEmpty(at(17))}
	if diff := cmp.Diff([]bool{false, false, false, true}, got); diff != "" {
		t.Errorf("IsEmpty at 10,16,16.9,17 (-want +got):\n%s", diff)
	}
}

func TestNumBuckets(t *testing.T) {
	for _, tc := range []struct {
		w    time.Duration
		want int
	}{{60 * time.Second, 60}, {6 * time.Second, 6}, {6500 * time.Millisecond, 7}, {0, 1}} {
		if got := len(NewTimedBuckets(tc.w).buckets); got != tc.want {
			t.Errorf("buckets(%v) = %d, want %d", tc.w, got, tc.want)
		}
	}
}

func TestSmoothingCoefficient(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want float64
	}{{60, 0.2}, {42, 0.2}, {40, 0.2056718}, {6, 0.7845565}, {5, 0.8415107}} {
		if got := SmoothingCoefficient(tc.n); math.Abs(got-tc.want) > 1e-6 {
			t.Errorf("SmoothingCoefficient(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

func TestWeightedBuckets(t *testing.T) {
	t.Run("un-normalised: one sample v in a fresh window is alpha*v", func(t *testing.T) {
		w := NewWeightedBuckets(60 * time.Second)
		w.Record(at(0), 10)
		if got := w.WindowAverage(at(0)); math.Abs(got-2) > 1e-9 {
			t.Errorf("got %v, want 2 (0.2*10)", got)
		}
	})
	t.Run("newest weighs alpha, older ones decay", func(t *testing.T) {
		w := NewWeightedBuckets(5 * time.Second) // alpha = 0.8415107
		for i, v := range []float64{10, 10, 5, 5} {
			w.Record(at(float64(i)), v)
		}
		a := w.Alpha()
		want := 5*a + 5*a*(1-a) + 10*a*math.Pow(1-a, 2) + 10*a*math.Pow(1-a, 3)
		if got := w.WindowAverage(at(3)); math.Abs(got-want) > 1e-9 {
			t.Errorf("got %v, want %v", got, want)
		}
		// Two silent seconds: weights shift by (1-a)^2 and only 3 buckets remain.
		want = a * math.Pow(1-a, 2) * (5 + 5*(1-a) + 10*math.Pow(1-a, 2))
		if got := w.WindowAverage(at(5)); math.Abs(got-want) > 1e-9 {
			t.Errorf("after silence got %v, want %v", got, want)
		}
		if got := w.WindowAverage(at(9)); got != 0 {
			t.Errorf("after a whole window of silence got %v, want 0", got)
		}
	})
}

func TestResize(t *testing.T) {
	b := NewTimedBuckets(6 * time.Second)
	for i := 0; i < 6; i++ {
		b.Record(at(float64(i)), float64(i))
	}
	b.Resize(at(5), 3*time.Second)
	if got, want := b.WindowAverage(at(5)), 4.0; got != want { // 3,4,5
		t.Errorf("shrunk average = %v, want %v", got, want)
	}
	b.Resize(at(5), 6*time.Second)
	// firstWrite = lastWrite - 2 s, buckets 3,4,5 kept: 12/3.
	if got, want := b.WindowAverage(at(5)), 4.0; got != want {
		t.Errorf("grown average = %v, want %v", got, want)
	}
	b.Resize(at(100), 10*time.Second) // old data: discarded by the now check
	if got := b.WindowAverage(at(5)); got != 0 {
		t.Errorf("after stale resize average = %v, want 0", got)
	}
}

func TestMax(t *testing.T) {
	type op struct {
		idx  int64
		v    int32
		want int32
	}
	tests := []struct {
		name  string
		slots time.Duration
		ops   []op
	}{{
		name:  "a value holds for n slots then is forgotten",
		slots: 6 * time.Second, // n = 3 slots of 2 s
		ops:   []op{{0, 5, 5}, {1, 1, 5}, {2, 1, 5}, {3, 1, 1}},
	}, {
		name:  "same slot keeps the larger",
		slots: 6 * time.Second,
		ops:   []op{{0, 5, 5}, {0, 3, 5}, {0, 7, 7}},
	}, {
		name:  "larger value replaces smaller ones at once",
		slots: 10 * time.Second,
		ops:   []op{{0, 2, 2}, {1, 9, 9}, {2, 4, 9}, {6, 0, 4}, {7, 0, 0}},
	}, {
		name:  "odd delay rounds slots up",
		slots: 5 * time.Second, // ceil(5/2) = 3 slots
		ops:   []op{{0, 5, 5}, {2, 0, 5}, {3, 0, 0}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMax(tc.slots, 2*time.Second)
			for i, o := range tc.ops {
				m.RecordIndex(o.idx, o.v)
				if got, _ := m.Current(); got != o.want {
					t.Errorf("op %d (slot %d, %d): Current = %d, want %d", i, o.idx, o.v, got, o.want)
				}
			}
		})
	}
	t.Run("Record uses Unix()/2", func(t *testing.T) {
		m := NewMax(4*time.Second, 2*time.Second)
		m.Record(time.Unix(10, 0), 3) // slot 5
		m.Record(time.Unix(13, 0), 1) // slot 6
		m.Record(time.Unix(14, 0), 1) // slot 7: slot 5 forgotten
		if got, _ := m.Current(); got != 1 {
			t.Errorf("Current = %d, want 1", got)
		}
	})
	t.Run("out-of-order records never overflow", func(t *testing.T) {
		m := NewMax(4*time.Second, 2*time.Second)
		for i := int64(10); i > 0; i-- {
			m.RecordIndex(i, int32(i))
		}
		if _, ok := m.Current(); !ok {
			t.Error("Current reported empty")
		}
	})
}

func BenchmarkTimedBucketsRecord(b *testing.B) {
	w := NewTimedBuckets(60 * time.Second)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		w.Record(epoch.Add(time.Duration(i)*time.Second), 1)
	}
}

func BenchmarkTimedBucketsWindowAverage(b *testing.B) {
	w := NewTimedBuckets(60 * time.Second)
	for i := 0; i < 60; i++ {
		w.Record(at(float64(i)), float64(i))
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = w.WindowAverage(at(70))
	}
}

func BenchmarkWeightedBucketsWindowAverage(b *testing.B) {
	w := NewWeightedBuckets(60 * time.Second)
	for i := 0; i < 60; i++ {
		w.Record(at(float64(i)), float64(i))
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = w.WindowAverage(at(62))
	}
}

func BenchmarkMaxRecord(b *testing.B) {
	m := NewMax(5*time.Minute, 2*time.Second)
	b.ReportAllocs()
	for i := int64(0); b.Loop(); i++ {
		m.RecordIndex(i, int32(i%37))
	}
}
