package autoscaler

import (
	"math"
	"time"
)

// State is a revision's activity, Knative's PodAutoscaler Active condition.
type State int

const (
	// StateActivating (Active=Unknown): wanted pods are not ready yet; a new
	// revision starts here.
	StateActivating State = iota
	// StateActive (Active=True): enough pods are ready and some are wanted.
	StateActive
	// StateInactive (Active=False): the revision is idle; the activator is
	// in the path and the last pod goes after the grace period.
	StateInactive
)

// String returns "activating", "active" or "inactive".
func (s State) String() string {
	switch s {
	case StateActivating:
		return "activating"
	case StateActive:
		return "active"
	case StateInactive:
		return "inactive"
	}
	return "unknown"
}

// ScaleResult is what a platform applies for one revision.
type ScaleResult struct {
	// Replicas is the replica count to run now. It starts at the initial
	// scale and changes only when the bounds logic applies a new value.
	Replicas int32
	// Want is the scaler's wanted scale (Knative's "want"): -1 when
	// unknown, 0 when the revision should be (or go) idle.
	Want int32
	// State is the revision's activity after this reconcile.
	State State
	// ActivatorInPath reports Knative's SKS Proxy mode: route traffic
	// through the activator (scale 0, negative excess burst capacity, or
	// no decision yet for an inactive revision).
	ActivatorInPath bool
	// Activators is the size of the activator subset to use.
	Activators int32
	// RequeueAfter, when non-zero, is when the gating logic wants to look
	// again (the end of a grace, retention or stable period). A caller
	// that reconciles every tick may ignore it.
	RequeueAfter time.Duration
}

// Bounds is the KPA reconciler's scale logic as a pure state machine:
// min/max/initial scale, enable-scale-to-zero, the grace and retention
// periods, the activation timeout and the activating/active/inactive
// states. Reconcile takes now; nothing reads a clock. It is not safe for
// concurrent use.
//
// Two simplifications against Knative, both stated in docs/autoscaling.md:
// the activator probe before scaling to zero is assumed to succeed, and the
// activator counts as in the path from the reconcile that asked for it.
type Bounds struct {
	// spec is never written through here: UpdateSpec points it at a new
	// copy (see Decider.spec).
	spec *Spec
	// state and since: the current activity and when it began.
	state State
	since time.Time
	// initialized: the target reached its initial size once.
	initialized bool
	// replicas is the last applied replica count.
	replicas int32
	// proxySince is when the activator was put in the path (zero: not).
	proxySince time.Time
}

// NewBounds starts a revision at now: activating, with its replicas at the
// initial scale bounded by max-scale (see [Spec.BoundedInitialScale]).
func NewBounds(spec Spec, now time.Time) *Bounds {
	return &Bounds{spec: &spec, state: StateActivating, since: now, replicas: spec.BoundedInitialScale()}
}

// BoundedInitialScale returns initial-scale clamped to max-scale (when not
// 0): the replicas a revision starts with and the ready count that
// initialises it.
//
// Knative accepts an initial-scale above max-scale; its Deployment is
// created with initial-scale replicas and the KPA then clamps the scale to
// max-scale, since max-scale wins in applyBounds. servekit clamps from the
// start, so initial-scale 100000 never asks a runtime for 100000 pods
// (issue 17), and so a revision that can never reach its initial scale is
// not left activating forever (Knative waits for initial-scale ready pods).
func (s Spec) BoundedInitialScale() int32 {
	if s.MaxScale > 0 && s.InitialScale > s.MaxScale {
		return s.MaxScale
	}
	return s.InitialScale
}

// UpdateSpec replaces the spec; state and timers are kept.
func (b *Bounds) UpdateSpec(s Spec) { b.spec = &s }

// State returns the current activity and since when.
func (b *Bounds) State() (State, time.Time) { return b.state, b.since }

// Replicas returns the last applied replica count.
func (b *Bounds) Replicas() int32 { return b.replicas }

// Reconcile decides the scale at now from the decider's status and the
// ready pod count. A state change triggers another pass at the same
// instant, as the PodAutoscaler's own status update re-enqueues it in
// Knative.
func (b *Bounds) Reconcile(now time.Time, st Status, readyPods int32) ScaleResult {
	var r ScaleResult
	for range 3 {
		prev := b.state
		r = b.pass(now, st, readyPods)
		if b.state == prev {
			break
		}
	}
	return r
}

func (b *Bounds) pass(now time.Time, st Status, ready int32) ScaleResult {
	s := b.spec
	want, apply, requeue := st.DesiredScale, false, time.Duration(0)
	if !(want < 0 && b.state != StateActivating) {
		lo, hi := s.BoundedMin(), s.MaxScale
		if init := s.BoundedInitialScale(); init > 1 && !b.initialized && s.Reachable {
			lo = max(lo, init)
		}
		want = applyBounds(lo, hi, want)
		want, apply, requeue = b.scaleToZero(now, want)
	}
	if apply && want >= 0 {
		b.replicas = want
	}

	proxy := want == 0 || st.ExcessBurstCapacity < 0 || (want < 0 && b.state == StateInactive)
	switch {
	case proxy && b.proxySince.IsZero():
		b.proxySince = now
	case !proxy:
		b.proxySince = time.Time{}
	}

	b.updateState(now, want, ready)
	return ScaleResult{
		Replicas:        b.replicas,
		Want:            want,
		State:           b.state,
		ActivatorInPath: proxy,
		Activators:      b.activators(ready),
		RequeueAfter:    requeue,
	}
}

// applyBounds clamps x into [lo, hi]; hi 0 means unbounded.
func applyBounds(lo, hi, x int32) int32 {
	if x < lo {
		return lo
	}
	if hi != 0 && x > hi {
		return hi
	}
	return x
}

// scaleToZero gates a bounded desire of 0 (Knative's handleScaleToZero).
// It returns the scale, whether to apply it, and when to look again.
func (b *Bounds) scaleToZero(now time.Time, want int32) (int32, bool, time.Duration) {
	if want != 0 {
		return want, true, 0
	}
	s := b.spec
	if !s.EnableScaleToZero {
		return 1, true, 0
	}
	in := now.Sub(b.since)
	switch b.state {
	case StateActivating:
		// Stuck activating past the progress deadline: give up, go to 0.
		if in > s.ActivationTimeout {
			return 0, true, 0
		}
		return -1, false, s.ActivationTimeout - in
	case StateActive:
		// Idle for a whole stable window: report 0 to mark the revision
		// inactive (puts the activator in the path) but keep the pods.
		if in >= s.StableWindow {
			return 0, false, 0
		}
		return 1, true, s.StableWindow - in
	default:
		retention := s.ScaleToZeroPodRetentionPeriod
		if !s.Reachable {
			retention = 0
		}
		if in >= max(s.ScaleToZeroGracePeriod, retention) {
			return 0, true, 0
		}
		if retention > 0 && in < retention {
			return 0, false, retention - in
		}
		var proxyFor time.Duration
		if !b.proxySince.IsZero() {
			proxyFor = now.Sub(b.proxySince)
		}
		if to := s.ScaleToZeroGracePeriod - proxyFor; to > 0 {
			return 0, false, to
		}
		return 0, true, 0 // activator in the path long enough: fast path
	}
}

// updateState is Knative's computeActiveCondition.
func (b *Bounds) updateState(now time.Time, want, ready int32) {
	lo := b.spec.BoundedMin()
	minReady := max(lo, 1)
	if !b.initialized {
		minReady = max(lo, b.spec.BoundedInitialScale())
	}
	if ready >= minReady {
		b.initialized = true
	}
	next := b.state
	switch {
	case want == 0 || minReady == 0:
		next = StateInactive
	case ready < minReady:
		if want > 0 || b.state != StateInactive {
			next = StateActivating
		}
	default:
		if want > 0 || b.state != StateInactive {
			next = StateActive
		}
	}
	if next != b.state {
		b.state, b.since = next, now
	}
}

// activators is the activator subset size: 2 when TBC is 0, else
// max(2, ceil((ready × total + max(TBC, 0)) / activator-capacity)).
func (b *Bounds) activators(ready int32) int32 {
	s := b.spec
	if s.TargetBurstCapacity == 0 || s.ActivatorCapacity <= 0 {
		return MinActivators
	}
	n := toInt32(math.Ceil((float64(ready)*s.TotalValue + math.Max(s.TargetBurstCapacity, 0)) / s.ActivatorCapacity))
	return max(MinActivators, n)
}
