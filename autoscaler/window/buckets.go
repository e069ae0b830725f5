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
	// first is the oldest second (Unix seconds) of the current run of
	// data; unset (zeroSec, the zero time.Time) until the first Record.
	// WindowAverage divides by the seconds since it while the window is
	// warming up.
	first int64
	// last is the newest second written (zeroSec until the first Record).
	last int64
	// window is the averaging window (len(buckets) seconds, rounded up).
	window time.Duration
	// total is the sum of every ring entry, including stale ones after
	// last that WindowAverage subtracts.
	total float64
}

// The windows keep instants as whole Unix seconds (every instant is
// truncated to its bucket first), so the hot paths do integer arithmetic
// instead of time.Time arithmetic. zeroSec stands for the zero time.Time
// (year 1), and since saturates as time.Time.Sub does, so every comparison
// gives the result the time.Time version gave.
var zeroSec = time.Time{}.Unix()

// since returns (a − b) seconds as a Duration, saturating like
// time.Time.Sub.
func since(a, b int64) time.Duration {
	const maxSec = int64(math.MaxInt64 / int64(time.Second))
	switch d := a - b; {
	case d > maxSec:
		return math.MaxInt64
	case d < -maxSec:
		return math.MinInt64
	default:
		return time.Duration(d) * time.Second
	}
}

// NewTimedBuckets returns a linear window of ceil(window / 1s) buckets.
// A window shorter than one second is treated as one second.
func NewTimedBuckets(window time.Duration) *TimedBuckets {
	t := &TimedBuckets{first: zeroSec, last: zeroSec}
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

func (t *TimedBuckets) slot(i int64) int {
	s := int(i % int64(len(t.buckets)))
	if s < 0 {
		s += len(t.buckets)
	}
	return s
}

// Record adds v to the bucket of the second containing now.
//
// Several records in the same second are summed (this is how a scraped stat
// and an activator's pushed stat for one second merge). A record one full
// window or more older than the newest data is dropped. Seconds skipped
// between the previous write and this one become zeros; a gap of a whole
// window resets the window and restarts its warm-up.
func (t *TimedBuckets) Record(now time.Time, v float64) {
	t.RecordUnix(now.Unix(), v)
}

// RecordUnix is Record for the second sec (Unix seconds).
func (t *TimedBuckets) RecordUnix(sec int64, v float64) {
	b := sec
	if b != t.last {
		if since(t.last, b) >= t.window {
			return // at least a window older than the newest data
		}
		if t.first == zeroSec || b < t.first {
			t.first = b
		}
		if b > t.last {
			if since(b, t.last) >= t.window {
				t.first = b
				clear(t.buckets)
				t.total = 0
			} else {
				// Zero the seconds after last up to b, stepping through
				// the ring instead of one modulo per second.
				s := t.slot(t.last)
				for i := t.last; i < b; i++ {
					if s++; s == len(t.buckets) {
						s = 0
					}
					t.total -= t.buckets[s]
					t.buckets[s] = 0
				}
			}
			t.last = b
		}
	}
	t.buckets[t.slot(b)] += v
	t.total += v
}

// IsEmpty reports whether nothing was recorded within the window before now
// (strictly more than one window since the last write).
func (t *TimedBuckets) IsEmpty(now time.Time) bool { return t.IsEmptyUnix(now.Unix()) }

// IsEmptyUnix is IsEmpty at the second sec (Unix seconds).
func (t *TimedBuckets) IsEmptyUnix(sec int64) bool { return since(sec, t.last) > t.window }

// WindowAverage returns the linear average at now, rounded to 6 decimals.
//
// During warm-up the denominator is the number of seconds since the first
// write, not the window. Seconds after the last write are dropped from the
// window rather than counted as zeros; once a whole window has passed
// without writes the average is 0.
func (t *TimedBuckets) WindowAverage(now time.Time) float64 {
	return t.WindowAverageUnix(now.Unix())
}

// WindowAverageUnix is WindowAverage at the second sec (Unix seconds).
func (t *TimedBuckets) WindowAverageUnix(sec int64) float64 {
	d := since(sec, t.last)
	span := float64(since(t.last, t.first)/Granularity) + 1
	switch {
	case d <= 0:
		n := math.Min(span, float64(len(t.buckets)))
		return roundTo(t.total / n)
	case d < t.window:
		st, en := t.last, sec
		sum := t.total
		s := t.slot(st)
		for i := st; i < en; i++ {
			if s++; s == len(t.buckets) {
				s = 0
			}
			sum -= t.buckets[s]
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
	if since(now.Unix(), t.last) <= t.window && t.last != zeroSec {
		old := len(t.buckets)
		idx := t.last
		for i := 0; i < min(n, old); i++ {
			v := t.buckets[t.slot(idx)]
			nb[int(((idx%int64(n))+int64(n))%int64(n))] = v
			total += v
			idx--
		}
		t.first = t.last - int64(old-1)
	} else {
		t.first = zeroSec
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
	w := &WeightedBuckets{TimedBuckets: TimedBuckets{first: zeroSec, last: zeroSec}}
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
	return w.WindowAverageUnix(now.Unix())
}

// WindowAverageUnix is WindowAverage at the second sec (Unix seconds).
func (w *WeightedBuckets) WindowAverageUnix(sec int64) float64 {
	if w.IsEmptyUnix(sec) {
		return 0
	}
	n := int64(len(w.buckets))
	m := w.alpha
	if sec > w.last {
		k := int64(since(sec, w.last) / Granularity)
		m *= math.Pow(1-w.alpha, float64(k))
		n -= k
	}
	s := w.slot(w.last)
	ret := 0.0
	for i := int64(0); i < n; i++ {
		ret += w.buckets[s] * m
		m *= 1 - w.alpha
		if s == 0 {
			s = len(w.buckets)
		}
		s--
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
