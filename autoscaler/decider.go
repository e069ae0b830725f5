package autoscaler

import (
	"math"
	"time"

	"github.com/servekit/servekit/autoscaler/window"
)

// Observation is what the decider sees at one tick.
type Observation struct {
	// ReadyPods is the revision's ready pod count (use 0 when the
	// revision's pods are not found, as Knative does).
	ReadyPods int32
	// Stable is the stable-window average of the spec's metric
	// (concurrency or requests per second), a revision total.
	Stable float64
	// Panic is the panic-window average of the same metric.
	Panic float64
	// NoData marks a tick without usable input (Knative's ErrNoData, or a
	// pod-count error): the decision is invalid and nothing changes.
	NoData bool
}

// Decision is the result of one tick.
type Decision struct {
	// DesiredPodCount is the decider's wanted pod count. For an invalid
	// decision it is the last valid one (-1 before the first).
	DesiredPodCount int32
	// ExcessBurstCapacity is spare capacity beyond the target burst
	// capacity; negative means the activator must stay in the path.
	ExcessBurstCapacity int32
	// Panic reports whether the decider is in panic mode after this tick.
	Panic bool
	// Valid is false when the observation had no data; the status keeps
	// its previous values.
	Valid bool
	// Changed reports that a platform should act: DesiredScale changed or
	// ExcessBurstCapacity changed sign (0 counts as non-negative).
	Changed bool
}

// Status is the decider's last valid result, what the platform reads.
type Status struct {
	// DesiredScale is -1 until the first valid tick.
	DesiredScale int32
	// ExcessBurstCapacity starts at InitialStatus's value.
	ExcessBurstCapacity int32
}

// InitialStatus is the status of a fresh decider: DesiredScale -1 and
// ExcessBurstCapacity = TBC if TBC is 0 or -1, else
// int32(InitialScale × TotalValue − TBC) truncated toward zero (Knative
// truncates here but floors per tick, docs/autoscaling.md surprise 14).
func InitialStatus(s Spec) Status {
	st := Status{DesiredScale: -1}
	switch {
	case s.TargetBurstCapacity == 0:
		st.ExcessBurstCapacity = 0
	case s.TargetBurstCapacity < 0:
		st.ExcessBurstCapacity = -1
	default:
		st.ExcessBurstCapacity = toInt32(float64(s.InitialScale)*s.TotalValue - s.TargetBurstCapacity)
	}
	return st
}

// Decider is Knative's per-revision KPA decider: one pure step per tick.
// It is not safe for concurrent use.
type Decider struct {
	// spec is never written through here: UpdateSpec points it at a new
	// copy, so copies of a Decider never see each other's updates. A
	// MultiScaler points a revision's decider and bounds at the one Spec
	// the revision holds (revision.spec) and updates that under the
	// revision's lock.
	spec *Spec
	// panicTime is the last tick that was over the panic threshold; zero
	// when not panicking.
	panicTime time.Time
	// maxPanicPods ratchets the pod count up while panicking.
	maxPanicPods int32
	// delay is the scale-down-delay window; nil when the decider was
	// created with no delay (it is never created later, docs/autoscaling.md surprise 12).
	delay  *window.Max
	status Status
}

// NewDecider creates a decider at now for a revision with readyPods ready.
// With more than one ready pod it starts in panic mode, holding the current
// pod count for at least a stable window: a restarted autoscaler that lost
// its history must not scale a running revision down (docs/autoscaling.md surprise 8).
func NewDecider(spec Spec, readyPods int32, now time.Time) *Decider {
	d := &Decider{spec: &spec, maxPanicPods: readyPods, status: InitialStatus(spec)}
	if readyPods > 1 {
		d.panicTime = now
	}
	if spec.ScaleDownDelay > 0 {
		d.delay = window.NewMax(spec.ScaleDownDelay, TickInterval)
	}
	return d
}

// Spec returns the decider's spec.
func (d *Decider) Spec() Spec { return *d.spec }

// UpdateSpec replaces the spec. As in Knative the scale-down-delay window
// keeps the length it was created with, and a decider created without a
// delay never delays (docs/autoscaling.md surprise 12).
func (d *Decider) UpdateSpec(s Spec) { d.spec = &s }

// Status returns the last valid result.
func (d *Decider) Status() Status { return d.status }

// Panicking reports whether the decider is in panic mode.
func (d *Decider) Panicking() bool { return !d.panicTime.IsZero() }

// ShouldPoke reports whether a stat with this average concurrency should
// trigger an immediate tick: only when the last decision was exactly 0 and
// the stat carries load. A fresh decider (status -1) is not poked (docs/autoscaling.md surprise 19).
func (d *Decider) ShouldPoke(averageConcurrency float64) bool {
	return d.status.DesiredScale == 0 && averageConcurrency != 0
}

// Decide runs one tick at now. It does not allocate.
func (d *Decider) Decide(now time.Time, o Observation) Decision {
	if o.NoData {
		return Decision{DesiredPodCount: d.status.DesiredScale,
			ExcessBurstCapacity: d.status.ExcessBurstCapacity, Panic: d.Panicking()}
	}
	s := d.spec
	ready := o.ReadyPods
	if ready < 0 {
		ready = 0
	}
	r := math.Max(1, float64(ready))

	maxUp := math.Ceil(s.MaxScaleUpRate * r)
	maxDown := 0.0
	if s.Reachable {
		maxDown = math.Floor(r / s.MaxScaleDownRate)
	}

	dspc := math.Ceil(o.Stable / s.TargetValue)
	dppc := math.Ceil(o.Panic / s.TargetValue)
	desiredStable := toInt32(math.Min(math.Max(dspc, maxDown), maxUp))
	desiredPanic := toInt32(math.Min(math.Max(dppc, maxDown), maxUp))

	// activation-scale is a floor whenever there is any traffic (docs/autoscaling.md surprise 9),
	// and may exceed maxUp.
	if as := s.ActivationScale; as > 1 {
		if dspc > 0 && desiredStable < as {
			desiredStable = as
		}
		if dppc > 0 && desiredPanic < as {
			desiredPanic = as
		}
	}

	// Panic compares pods, using the unclamped panic desire (docs/autoscaling.md surprise 6).
	over := dppc/r >= s.PanicThreshold
	switch {
	case over:
		d.panicTime = now // enter or extend
	case !d.panicTime.IsZero() && d.panicTime.Add(s.StableWindow).Before(now):
		d.panicTime = time.Time{}
		d.maxPanicPods = 0
	}

	desired := desiredStable
	if !d.panicTime.IsZero() {
		// Never decrease while panicking; use the larger desire (docs/autoscaling.md surprise 7).
		desired = max(desiredStable, desiredPanic)
		if desired > d.maxPanicPods {
			d.maxPanicPods = desired
		}
		desired = d.maxPanicPods
	}

	if s.Reachable && d.delay != nil {
		d.delay.Record(now, desired)
		desired, _ = d.delay.Current()
	}

	var ebc int32
	switch {
	case s.TargetBurstCapacity == 0:
		ebc = 0
	case s.TargetBurstCapacity > 0:
		ebc = toInt32(math.Floor(float64(ready)*s.TotalValue - s.TargetBurstCapacity - o.Panic))
	default:
		ebc = -1
	}

	changed := desired != d.status.DesiredScale ||
		(ebc < 0) != (d.status.ExcessBurstCapacity < 0)
	d.status = Status{DesiredScale: desired, ExcessBurstCapacity: ebc}
	return Decision{DesiredPodCount: desired, ExcessBurstCapacity: ebc,
		Panic: d.Panicking(), Valid: true, Changed: changed}
}

// toInt32 converts like Go's int32(f) but saturates instead of producing an
// implementation-defined value out of range (NaN becomes 0).
func toInt32(f float64) int32 {
	switch {
	case f != f:
		return 0
	case f >= math.MaxInt32:
		return math.MaxInt32
	case f <= math.MinInt32:
		return math.MinInt32
	}
	return int32(f)
}
