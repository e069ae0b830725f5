package window

import (
	"math"
	"time"
)

// Granularity is the bucket width of every averaging window: one second,
// Knative's BucketSize.
const Granularity = time.Second

// precision is the number of decimals a linear average is rounded to.
const precision = 6

// TimedBuckets is a ring of one-second buckets averaged linearly over a
// window, exactly as Knative's TimedFloat64Buckets.
//
// A zero TimedBuckets has no buckets; create one with [NewTimedBuckets].
type TimedBuckets struct {
	// buckets is a ring indexed by the Unix second modulo len(buckets).
	buckets []float64
	// firstWrite is the oldest second of the current run of data (zero until
	// the first Record). WindowAverage divides by the seconds since it while
	// the window is warming up.
	firstWrite time.Time
	// lastWrite is the newest second written.
	lastWrite time.Time
	// window is the averaging window (len(buckets) seconds, rounded up).
	window time.Duration
	// total is the sum of every ring entry, including stale ones after
	// lastWrite that WindowAverage subtracts.
	total float64
}

// NewTimedBuckets returns a linear window of ceil(window / 1s) buckets.
// A window shorter than one second is treated as one second.
func NewTimedBuckets(window time.Duration) *TimedBuckets {
	t := &TimedBuckets{}
	t.init(window)
	return t
}

func (t *TimedBuckets) init(window time.Duration) {
	n := numBuckets(window)
	t.buckets = make([]float64, n)
	t.window = window
	if t.window < Granularity {
		t.window = Granularity
	}
}

func numBuckets(window time.Duration) int {
	n := int(math.Ceil(float64(window) / float64(Granularity)))
	if n < 1 {
		n = 1
	}
	return n
}

// Window returns the window length.
func (t *TimedBuckets) Window() time.Duration { return t.window }

// index maps a bucket-aligned instant to its ring position (before modulo).
func index(tm time.Time) int64 { return tm.Unix() }

func (t *TimedBuckets) slot(i int64) int {
	n := int64(len(t.buckets))
	return int(((i % n) + n) % n)
}

// Record adds v to the bucket of the second containing now.
//
// Several records in the same second are summed (this is how a scraped stat
// and an activator's pushed stat for one second merge). A record one full
// window or more older than the newest data is dropped. Seconds skipped
// between the previous write and this one become zeros; a gap of a whole
// window resets the window and restarts its warm-up.
func (t *TimedBuckets) Record(now time.Time, v float64) {
	b := now.Truncate(Granularity)
	if !b.Equal(t.lastWrite) {
		if !b.Add(t.window).After(t.lastWrite) {
			return // at least a window older than the newest data
		}
		if t.firstWrite.IsZero() || b.Before(t.firstWrite) {
			t.firstWrite = b
		}
		if b.After(t.lastWrite) {
			if b.Sub(t.lastWrite) >= t.window {
				t.firstWrite = b
				clear(t.buckets)
				t.total = 0
			} else {
				for i := index(t.lastWrite) + 1; i <= index(b); i++ {
					s := t.slot(i)
					t.total -= t.buckets[s]
					t.buckets[s] = 0
				}
			}
			t.lastWrite = b
		}
	}
	t.buckets[t.slot(index(b))] += v
	t.total += v
}

// IsEmpty reports whether nothing was recorded within the window before now
// (strictly more than one window since the last write).
func (t *TimedBuckets) IsEmpty(now time.Time) bool {
	return now.Truncate(Granularity).Sub(t.lastWrite) > t.window
}

// WindowAverage returns the linear average at now, rounded to 6 decimals.
//
// During warm-up the denominator is the number of seconds since the first
// write, not the window. Seconds after the last write are dropped from the
// window rather than counted as zeros; once a whole window has passed
// without writes the average is 0.
func (t *TimedBuckets) WindowAverage(now time.Time) float64 {
	now = now.Truncate(Granularity)
	d := now.Sub(t.lastWrite)
	span := float64(t.lastWrite.Sub(t.firstWrite)/Granularity) + 1
	switch {
	case d <= 0:
		n := math.Min(span, float64(len(t.buckets)))
		return roundTo(t.total / n)
	case d < t.window:
		st, en := index(t.lastWrite), index(now)
		sum := t.total
		for i := st + 1; i <= en; i++ {
			sum -= t.buckets[t.slot(i)]
		}
		n := math.Min(span, float64(int64(len(t.buckets))-(en-st)))
		return roundTo(sum / n)
	default:
		return 0
	}
}

func roundTo(f float64) float64 {
	p := math.Pow10(precision)
	return math.Round(f*p) / p
}

// Resize changes the window length, keeping the newest min(old, new)
// buckets. As in Knative, whether the data is kept is decided against now
// (Knative uses the wall clock here, not the metric timestamps): data last
// written more than the old window before now is discarded. Resize allocates
// and is meant for spec changes, not the hot path.
func (t *TimedBuckets) Resize(now time.Time, window time.Duration) {
	if window < Granularity {
		window = Granularity
	}
	if window == t.window {
		return
	}
	n := numBuckets(window)
	nb := make([]float64, n)
	total := 0.0
	if now.Truncate(Granularity).Sub(t.lastWrite) <= t.window && !t.lastWrite.IsZero() {
		old := len(t.buckets)
		idx := index(t.lastWrite)
		for i := 0; i < min(n, old); i++ {
			v := t.buckets[t.slot(idx)]
			nb[int(((idx%int64(n))+int64(n))%int64(n))] = v
			total += v
			idx--
		}
		t.firstWrite = t.lastWrite.Add(-time.Duration(old-1) * Granularity)
	} else {
		t.firstWrite = time.Time{}
	}
	t.window = window
	t.buckets = nb
	t.total = total
}

// WeightedBuckets stores like [TimedBuckets] but averages with exponential
// weights: the newest second has weight α, each older one (1−α) times the
// previous, where α = max(1 − 0.0001^(1/n), 0.2) for n buckets. Seconds
// since the last write count as zeros that still decay the weights. The
// result is not normalised by the weight sum, so a fresh window reports
// α·v for a single sample v (Knative's behaviour).
type WeightedBuckets struct {
	TimedBuckets
	alpha float64
}

// NewWeightedBuckets returns a weighted-exponential window of
// ceil(window / 1s) buckets.
func NewWeightedBuckets(window time.Duration) *WeightedBuckets {
	w := &WeightedBuckets{}
	w.init(window)
	w.alpha = SmoothingCoefficient(len(w.buckets))
	return w
}

// SmoothingCoefficient returns α for n buckets: max(1 − 0.0001^(1/n), 0.2).
func SmoothingCoefficient(n int) float64 {
	const minExponent, weightPrecision = 0.2, 0.9999
	return math.Max(1-math.Pow(1-weightPrecision, 1/float64(n)), minExponent)
}

// Alpha returns the smoothing coefficient in use.
func (w *WeightedBuckets) Alpha() float64 { return w.alpha }

// WindowAverage returns the weighted-exponential average at now (0 when the
// window is empty). It is not rounded.
func (w *WeightedBuckets) WindowAverage(now time.Time) float64 {
	now = now.Truncate(Granularity)
	if w.IsEmpty(now) {
		return 0
	}
	n := int64(len(w.buckets))
	m := w.alpha
	if now.After(w.lastWrite) {
		k := int64(now.Sub(w.lastWrite) / Granularity)
		m *= math.Pow(1-w.alpha, float64(k))
		n -= k
	}
	st := index(w.lastWrite)
	ret := 0.0
	for i := int64(0); i < n; i++ {
		ret += w.buckets[w.slot(st-i)] * m
		m *= 1 - w.alpha
	}
	return ret
}

// Resize changes the window length as [TimedBuckets.Resize] does and
// recomputes α.
func (w *WeightedBuckets) Resize(now time.Time, window time.Duration) {
	w.TimedBuckets.Resize(now, window)
	w.alpha = SmoothingCoefficient(len(w.buckets))
}

// Averager is what both window kinds offer; the collector holds either.
type Averager interface {
	Record(now time.Time, v float64)
	WindowAverage(now time.Time) float64
	IsEmpty(now time.Time) bool
	Resize(now time.Time, window time.Duration)
	Window() time.Duration
}

var (
	_ Averager = (*TimedBuckets)(nil)
	_ Averager = (*WeightedBuckets)(nil)
)
