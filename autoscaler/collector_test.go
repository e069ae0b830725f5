package autoscaler

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
)

var rev = types.NamespacedName{Namespace: "default", Name: "hello-00001"}

func newCollector(t testing.TB, ann map[string]string) *Collector {
	t.Helper()
	c := NewCollector()
	c.CreateOrUpdate(rev, mustSpec(t, nil, ann, 0), epoch)
	return c
}

type sp struct{ Stable, Panic float64 }

func readConc(t *testing.T, c *Collector, at float64) (sp, error) {
	t.Helper()
	s, p, err := c.StableAndPanicConcurrency(rev, sec(at))
	return sp{s, p}, err
}

func TestCollectorSubtractsProxied(t *testing.T) {
	c := newCollector(t, nil)
	if err := c.Record(rev, sec(0), Stat{AverageConcurrentRequests: 10, AverageProxiedConcurrentRequests: 4,
		RequestCount: 20, ProxiedRequestCount: 5}); err != nil {
		t.Fatal(err)
	}
	conc, _ := readConc(t, c, 0)
	s, p, _ := c.StableAndPanicRPS(rev, sec(0))
	if diff := cmp.Diff([]sp{{6, 6}, {15, 15}}, []sp{conc, {s, p}}); diff != "" {
		t.Errorf("concurrency, rps (-want +got):\n%s", diff)
	}
	if s, _, _ := c.StableAndPanic(rev, sec(0), MetricRPS); s != 15 {
		t.Errorf("StableAndPanic(rps) = %v, want 15", s)
	}
}

func TestCollectorPushedAndScrapedMerge(t *testing.T) {
	// The scraper's revision total and the activator's pushed stat for the
	// same second add up; proxied parts keep each request counted once.
	c := newCollector(t, nil)
	c.Record(rev, sec(5), Stat{PodName: ScraperPodName, AverageConcurrentRequests: 8, AverageProxiedConcurrentRequests: 3})
	c.Record(rev, sec(5.4), Stat{PodName: "activator-1", AverageConcurrentRequests: 3})
	if got, _ := readConc(t, c, 5); got != (sp{8, 8}) {
		t.Errorf("merged = %+v, want 8", got)
	}
}

func TestCollectorErrors(t *testing.T) {
	c := newCollector(t, nil)
	if _, err := readConc(t, c, 0); !errors.Is(err, ErrNoData) {
		t.Errorf("empty scraped revision: err = %v, want ErrNoData", err)
	}
	unknown := types.NamespacedName{Namespace: "x", Name: "y"}
	if err := c.Record(unknown, epoch, Stat{}); !errors.Is(err, ErrNotCollecting) {
		t.Errorf("Record unknown: %v", err)
	}
	if _, _, err := c.StableAndPanicConcurrency(unknown, epoch); !errors.Is(err, ErrNotCollecting) {
		t.Errorf("read unknown: %v", err)
	}
	c.Delete(rev)
	if _, err := readConc(t, c, 0); !errors.Is(err, ErrNotCollecting) {
		t.Errorf("after Delete: %v", err)
	}

	// TBC -1: nothing is scraped, an empty window reads as zeros.
	c2 := newCollector(t, map[string]string{AnnotationTargetBurstCapacity: "-1"})
	if got, err := readConc(t, c2, 0); err != nil || got != (sp{}) {
		t.Errorf("unscraped empty: %+v, %v; want zeros, nil", got, err)
	}
}

// Surprise 10: linear averages drop the seconds after the last sample, use a
// partial window during warm-up and sum samples within a second.
func TestSurprise10LinearAverages(t *testing.T) {
	c := newCollector(t, nil)
	var got []sp
	read := func(at float64) {
		v, _ := readConc(t, c, at)
		got = append(got, v)
	}
	c.Record(rev, sec(0), Stat{AverageConcurrentRequests: 10})
	read(0)
	c.Record(rev, sec(1), Stat{AverageConcurrentRequests: 20})
	c.Record(rev, sec(1.5), Stat{AverageConcurrentRequests: 10})
	read(1)
	read(5)
	want := []sp{
		{10, 10}, // warm-up: one second of data, not 10/60
		{20, 20}, // (10 + 30) / 2: same-second samples summed
		{20, 20}, // 4 silent seconds are dropped, not zeros
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// Surprise 11: weighted-exponential averages are un-normalised.
func TestSurprise11WeightedUnnormalised(t *testing.T) {
	c := newCollector(t, map[string]string{AnnotationMetricAggregation: AlgorithmWeightedExponential})
	c.Record(rev, sec(0), Stat{AverageConcurrentRequests: 10})
	got, _ := readConc(t, c, 0)
	// 60 stable buckets: α = 0.2; 6 panic buckets: α = 0.7845565.
	if math.Abs(got.Stable-2) > 1e-9 || math.Abs(got.Panic-7.845565) > 1e-6 {
		t.Errorf("weighted = %+v, want stable 2, panic 7.845565", got)
	}
}

// Surprise 16: a window resize keeps data only if it was written within the
// old window before the current time (Knative: the wall clock; here the
// caller's now, which the MultiScaler takes from its clock), whatever the
// metric timestamps say.
func TestSurprise16ResizeUsesCurrentTime(t *testing.T) {
	for _, tc := range []struct {
		name     string
		resizeAt float64
		want     sp
	}{
		// Kept: and firstWrite moves back to lastWrite − (60−1) s, so the
		// kept sample is averaged over 60 seconds.
		{"resized soon after the data: kept", 30, sp{0.166667, 0}},
		{"resized a window later: dropped", 61, sp{0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCollector(t, nil)
			c.Record(rev, sec(0), Stat{AverageConcurrentRequests: 10})
			c.CreateOrUpdate(rev, mustSpec(t, nil, map[string]string{AnnotationWindow: "120s"}, 0), sec(tc.resizeAt))
			got, _ := readConc(t, c, 30)
			if got != tc.want {
				t.Errorf("after resize at %vs: %+v, want %+v", tc.resizeAt, got, tc.want)
			}
		})
	}
}

// Surprise 17: two scraper stats landing in the same second are summed
// (double-counted for that bucket).
func TestSurprise17SlowScrapeDoubleCounts(t *testing.T) {
	c := newCollector(t, nil)
	c.Record(rev, sec(3.1), Stat{PodName: ScraperPodName, AverageConcurrentRequests: 10})
	c.Record(rev, sec(3.9), Stat{PodName: ScraperPodName, AverageConcurrentRequests: 10})
	if got, _ := readConc(t, c, 3); got.Stable != 20 {
		t.Errorf("stable = %v, want 20 (both stats summed)", got.Stable)
	}
}

// Surprise 18: silence is not zero. Pods that vanish without reporting keep
// the last average until a stable window passes, then reads fail with
// ErrNoData (the decider keeps its last decision).
func TestSurprise18SilenceIsNotZero(t *testing.T) {
	c := newCollector(t, nil)
	for i := 0; i < 10; i++ {
		c.Record(rev, sec(float64(i)), Stat{AverageConcurrentRequests: 10})
	}
	got, err := readConc(t, c, 30)
	if err != nil || got.Stable != 10 {
		t.Errorf("20 s after the last stat: %+v, %v; want stable 10", got, err)
	}
	if _, err := readConc(t, c, 69); err != nil {
		t.Errorf("60 s after the last stat: %v, want data", err)
	}
	if _, err := readConc(t, c, 70); !errors.Is(err, ErrNoData) {
		t.Errorf("61 s after the last stat: %v, want ErrNoData", err)
	}
	// Zero-valued scrapes are what drive the average down.
	c.Record(rev, sec(10), Stat{})
	if got, _ := readConc(t, c, 10); got.Stable != 9.090909 {
		t.Errorf("after a zero stat: %v, want 9.090909 (100/11)", got.Stable)
	}
}

// Surprise 20: a tick exactly on a second boundary sees only the part of
// that second recorded so far.
func TestSurprise20TickOnSecondBoundary(t *testing.T) {
	c := newCollector(t, nil)
	for i := 0; i < 10; i++ { // 5 scraped + 5 pushed each second
		c.Record(rev, sec(float64(i)), Stat{AverageConcurrentRequests: 5})
		c.Record(rev, sec(float64(i)+0.5), Stat{AverageConcurrentRequests: 5})
	}
	c.Record(rev, sec(10), Stat{AverageConcurrentRequests: 5}) // scraper's stat for second 10
	early, _ := readConc(t, c, 10)                             // the tick at t=10
	c.Record(rev, sec(10.5), Stat{AverageConcurrentRequests: 5})
	late, _ := readConc(t, c, 10)
	if early.Stable != 9.545455 || late.Stable != 10 {
		t.Errorf("stable at the boundary = %v then %v, want 9.545455 (105/11) then 10", early.Stable, late.Stable)
	}
}

func TestCollectorAlgorithmChangeRestarts(t *testing.T) {
	c := newCollector(t, nil)
	c.Record(rev, sec(0), Stat{AverageConcurrentRequests: 10})
	c.CreateOrUpdate(rev, mustSpec(t, nil, map[string]string{AnnotationMetricAggregation: AlgorithmWeightedExponential}, 0), sec(1))
	if _, err := readConc(t, c, 1); !errors.Is(err, ErrNoData) {
		t.Errorf("after algorithm change: %v, want ErrNoData (fresh windows)", err)
	}
}

func BenchmarkCollectorRecord(b *testing.B) {
	c := newCollector(b, nil)
	st := Stat{AverageConcurrentRequests: 3, RequestCount: 10}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = c.Record(rev, epoch.Add(time.Duration(i)*time.Second), st)
	}
}

func BenchmarkCollectorRecordParallel(b *testing.B) {
	c := newCollector(b, nil)
	st := Stat{AverageConcurrentRequests: 3, RequestCount: 10}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			_ = c.Record(rev, epoch.Add(time.Duration(i)*time.Second), st)
		}
	})
}
