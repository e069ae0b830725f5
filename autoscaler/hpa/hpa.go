package hpa

import (
	"fmt"
	"math"
	"time"
)

// Kubernetes' defaults for a HorizontalPodAutoscaler without a behavior.
const (
	// DefaultTolerance is the ratio band around 1 within which the usage
	// does not change the scale (the kube-controller-manager's
	// --horizontal-pod-autoscaler-tolerance).
	DefaultTolerance = 0.1
	// DefaultScaleDownWindow is the scale-down stabilisation window.
	DefaultScaleDownWindow = 300 * time.Second
	// DefaultScaleUpWindow is the scale-up stabilisation window: none.
	DefaultScaleUpWindow = 0
	// DefaultCPUUtilization is the CPU target (percent of the request) of
	// an HPA that names no metric.
	DefaultCPUUtilization = 80
)

// Spec is what a Decider decides against. Build it as a literal; the zero
// value of a field is documented with it.
type Spec struct {
	// Target is the per-pod usage the HPA aims for, in the unit of the
	// usages passed to Decide (percent of the CPU request, bytes of
	// memory). It must be positive.
	Target float64
	// Min is the lowest replica count; values below 1 mean 1 (the HPA
	// never scales to zero).
	Min int32
	// Max is the highest replica count; 0 means no limit.
	Max int32
	// Tolerance is the band around a usage ratio of 1 within which the scale
	// does not change; 0 means DefaultTolerance. It must not be negative.
	Tolerance float64
	// ScaleUpWindow is the scale-up stabilisation window: a scale-up goes
	// no higher than the lowest recommendation within it. 0 means none
	// (DefaultScaleUpWindow).
	ScaleUpWindow time.Duration
	// ScaleDownWindow is the scale-down stabilisation window: a scale-down
	// goes no lower than the highest recommendation within it. Unlike the
	// other fields, 0 means none; use DefaultScaleDownWindow for
	// Kubernetes' default.
	ScaleDownWindow time.Duration
}

// Validate reports a Spec a Decider cannot use, naming the field.
func (s Spec) Validate() error {
	switch {
	case !(s.Target > 0) || math.IsInf(s.Target, 1):
		return fmt.Errorf("hpa: Spec.Target = %v: must be a positive number", s.Target)
	case s.Max != 0 && s.Max < s.min():
		return fmt.Errorf("hpa: Spec.Max = %d: must be 0 (no limit) or at least Min (%d)", s.Max, s.min())
	case s.Tolerance < 0 || math.IsNaN(s.Tolerance):
		return fmt.Errorf("hpa: Spec.Tolerance = %v: must not be negative", s.Tolerance)
	case s.ScaleUpWindow < 0:
		return fmt.Errorf("hpa: Spec.ScaleUpWindow = %v: must not be negative", s.ScaleUpWindow)
	case s.ScaleDownWindow < 0:
		return fmt.Errorf("hpa: Spec.ScaleDownWindow = %v: must not be negative", s.ScaleDownWindow)
	}
	return nil
}

func (s Spec) min() int32 { return max(s.Min, 1) }

func (s Spec) max() int32 {
	if s.Max <= 0 {
		return math.MaxInt32
	}
	return s.Max
}

func (s Spec) tolerance() float64 {
	if s.Tolerance == 0 {
		return DefaultTolerance
	}
	return s.Tolerance
}

// Decider is the HPA's decision for one workload: it remembers the
// recommendations of the stabilisation windows. Create it with New. It is
// not safe for concurrent use.
type Decider struct {
	spec Spec
	// recs are the raw recommendations of the last windows' worth of
	// decisions; a sample older than both windows is overwritten in place,
	// so the slice stops growing once it spans the longer window.
	recs []recommendation
}

type recommendation struct {
	at       time.Time
	replicas int32
}

// Decision is one step's result.
type Decision struct {
	// Replicas is the replica count to apply.
	Replicas int32
	// Recommendation is the count the usage alone asks for, before
	// stabilisation and bounds (the current count within the tolerance or
	// without metrics).
	Recommendation int32
	// Ratio is the average usage over the target, with pods missing a usage
	// counted as the decision needed (see the package doc); 0 when no pod
	// had a usage.
	Ratio float64
}

// New returns a Decider for spec, or the error of spec.Validate.
func New(spec Spec) (*Decider, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	return &Decider{spec: spec}, nil
}

// Spec returns the Decider's spec.
func (d *Decider) Spec() Spec { return d.spec }

// SetSpec replaces the spec (e.g. the revision's annotations changed),
// keeping the recommendations already recorded, or returns the error of
// spec.Validate and changes nothing.
func (d *Decider) SetSpec(spec Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	d.spec = spec
	return nil
}

// Decide returns the replica count for current replicas whose ready pods
// use usages of the metric (one entry per pod that has a measurement; pods
// of current without one are counted as the package doc says). With no
// usage at all the HPA does not act: the result is current within the
// bounds, and nothing is recorded in the windows. current 0 (something
// scaled the workload to zero) gives Min.
// Decide allocates only while the recommendation history grows to span the
// longer window.
func (d *Decider) Decide(now time.Time, current int32, usages []float64) Decision {
	if len(usages) == 0 {
		// Kubernetes' HPA skips a workload without metrics: nothing is
		// recorded, so the windows are not fed a made-up recommendation.
		return Decision{Replicas: min(max(current, d.spec.min()), d.spec.max()), Recommendation: current}
	}
	rec, ratio := d.recommend(current, usages)
	out := Decision{Recommendation: rec, Ratio: ratio}
	out.Replicas = d.stabilise(now, current, rec)
	out.Replicas = min(max(out.Replicas, d.spec.min()), d.spec.max())
	return out
}

// recommend is the replica calculator: the raw recommendation and the usage
// ratio it came from.
func (d *Decider) recommend(current int32, usages []float64) (int32, float64) {
	sum := 0.0
	for _, u := range usages {
		sum += u
	}
	n := float64(len(usages))
	ratio := sum / n / d.spec.Target
	missing := float64(current) - n
	tol := d.spec.tolerance()
	if missing > 0 {
		// Kubernetes' conservative assumption for pods without metrics:
		// nothing used when scaling up, the target when scaling down, so
		// that they dampen the move; a move they reverse is no move.
		switch {
		case ratio > 1+tol:
			ratio = sum / (n + missing) / d.spec.Target
			if ratio <= 1 {
				return current, ratio
			}
		case ratio < 1-tol:
			ratio = (sum + missing*d.spec.Target) / (n + missing) / d.spec.Target
			if ratio >= 1 {
				return current, ratio
			}
		}
		n += missing
	}
	if math.Abs(ratio-1) <= tol {
		return current, ratio
	}
	want := math.Ceil(ratio * n)
	if want > math.MaxInt32 {
		want = math.MaxInt32
	}
	return int32(want), ratio
}

// stabilise records rec and returns current moved towards it, no higher
// than the lowest recommendation of the scale-up window and no lower than
// the highest of the scale-down window (Kubernetes'
// stabilizeRecommendationWithBehaviors).
func (d *Decider) stabilise(now time.Time, current, rec int32) int32 {
	upCutoff := now.Add(-d.spec.ScaleUpWindow)
	downCutoff := now.Add(-d.spec.ScaleDownWindow)
	up, down := rec, rec
	old := -1
	for i, r := range d.recs {
		if r.at.After(upCutoff) {
			up = min(up, r.replicas)
		}
		if r.at.After(downCutoff) {
			down = max(down, r.replicas)
		}
		if !r.at.After(upCutoff) && !r.at.After(downCutoff) {
			old = i
		}
	}
	out := current
	if out < up {
		out = up
	}
	if out > down {
		out = down
	}
	if old >= 0 {
		d.recs[old] = recommendation{at: now, replicas: rec}
	} else {
		d.recs = append(d.recs, recommendation{at: now, replicas: rec})
	}
	return out
}
