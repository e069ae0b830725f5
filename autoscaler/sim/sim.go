package sim

import (
	"cmp"
	"errors"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/autoscaler/hpa"
)

// Tick is one decider run: one output line.
type Tick struct {
	// At is the tick's time since t = 0 (whole, even seconds); in JSON a
	// duration string, e.g. "2s".
	At time.Duration
	// ReadyPods is the ready pod count the decider saw.
	ReadyPods int32
	// StableConcurrency is the stable-window concurrency average (0 on an
	// invalid tick, as are the next three).
	StableConcurrency float64
	// PanicConcurrency is the panic-window concurrency average.
	PanicConcurrency float64
	// StableRPS is the stable-window requests-per-second average.
	StableRPS float64
	// PanicRPS is the panic-window requests-per-second average.
	PanicRPS float64
	// Desired is the decider's DesiredPodCount (its last one when invalid,
	// -1 before the first valid tick).
	Desired int32
	// ExcessBurstCapacity is the decider's excess burst capacity.
	ExcessBurstCapacity int32
	// Panic is the decider's panic mode after the tick.
	Panic bool
	// Scale is the replica count applied after bounds and gating.
	Scale int32
	// Valid is false when the decider had no data and kept its last
	// decision.
	Valid bool
	// State is the revision's activity from the bounds logic (CSV and SVG
	// only; not in the JSON form).
	State autoscaler.State
	// ActivatorInPath is the bounds logic's activator placement (CSV only;
	// not in the JSON form).
	ActivatorInPath bool
	// HPA is true for a tick of an HPA-class trace: CPU is then set and the
	// KPA's fields (concurrency, RPS, excess burst capacity, panic, state,
	// activator) are zero.
	HPA bool
	// CPU is, on an HPA tick, the ready pods' average CPU use as a
	// percentage of the request (0 when invalid: no data or no ready pod).
	CPU float64
}

// epoch is t = 0: the Unix epoch, so the decider's 2-second
// scale-down-delay slots line up with the ticks.
var epoch = time.Unix(0, 0)

// simKey names the simulated revision.
var simKey = types.NamespacedName{Namespace: "scalesim", Name: "revision"}

// pods simulates the revision's pods: each becomes ready PodStartup after
// it was asked for and leaves at once on scale-down (unready pods first).
type pods struct {
	readyAt []time.Time // sorted ascending
	startup time.Duration
}

func (p *pods) scaleTo(now time.Time, n int32) {
	for int32(len(p.readyAt)) < n {
		p.readyAt = append(p.readyAt, now.Add(p.startup))
	}
	if int32(len(p.readyAt)) > n {
		p.readyAt = p.readyAt[:max(n, 0)] // the newest (least ready) go first
	}
}

func (p *pods) ready(now time.Time) int32 {
	n := int32(0)
	for _, r := range p.readyAt {
		if !r.After(now) {
			n++
		}
	}
	return n
}

// run is one simulation in progress.
type run struct {
	tr      *Trace
	spec    autoscaler.Spec
	col     *autoscaler.Collector
	bounds  *autoscaler.Bounds
	decider *autoscaler.Decider
	pods    *pods
	step    int // index of the sample in effect; -1 before the first
}

// Simulate validates the trace (see Trace.Validate) and runs it through a
// Collector, a Decider and Bounds exactly as a platform would, returning
// one Tick per decider run: Duration/2s ticks, at 2 s, 4 s, … Duration.
//
// For every whole second t in [0, Duration]: the step in effect at t is
// recorded for second t; then, if t > 0 and t is even, the decider runs at
// now = t with the ready pods in effect and the bounds logic decides the
// applied scale, which the simulated pods follow. The result depends only
// on the trace: the same trace gives the same ticks.
//
// An HPA-class trace (annotation autoscaling.knative.dev/class:
// hpa.autoscaling.knative.dev) runs the HPA instead (package
// github.com/servekit/servekit/autoscaler/hpa, with hpa.SpecFor): every
// HPASyncPeriod, at 15 s, 30 s, … Duration, each ready pod uses the
// sample's CPU divided by the ready pods, and the HPA's decision is
// applied. Its ticks have HPA set; the scale never drops below one pod.
func Simulate(tr *Trace) ([]Tick, error) {
	if err := tr.Validate(); err != nil {
		return nil, err
	}
	if tr.spec().Class == autoscaler.ClassHPA {
		return simulateHPA(tr)
	}
	r := &run{tr: tr, spec: tr.spec(), col: autoscaler.NewCollector(), step: -1}
	r.col.CreateOrUpdate(simKey, r.spec, epoch)
	r.pods = &pods{startup: tr.PodStartup}
	r.bounds = autoscaler.NewBounds(r.spec, epoch)
	r.pods.scaleTo(epoch, r.bounds.Replicas())
	r.advance(0)
	r.decider = autoscaler.NewDecider(r.spec, r.readyAt(epoch), epoch)

	ticks := make([]Tick, 0, int(tr.Duration/autoscaler.TickInterval))
	for s := 0; time.Duration(s)*time.Second <= tr.Duration; s++ {
		t := time.Duration(s) * time.Second
		now := epoch.Add(t)
		r.advance(t)
		if r.step >= 0 && !tr.Samples[r.step].NoData {
			sm := tr.Samples[r.step]
			if err := r.col.Record(simKey, now, autoscaler.Stat{AverageConcurrentRequests: sm.Concurrency, RequestCount: sm.RPS}); err != nil {
				return nil, err
			}
		}
		if s == 0 || s%2 != 0 {
			continue
		}
		tk, err := r.tick(t)
		if err != nil {
			return nil, err
		}
		ticks = append(ticks, tk)
	}
	return ticks, nil
}

// advance moves r.step to the last sample starting at or before t.
func (r *run) advance(t time.Duration) {
	for r.step+1 < len(r.tr.Samples) && r.tr.Samples[r.step+1].At <= t {
		r.step++
	}
}

// readyAt is the ready pod count the decider sees at now: the sample's
// override, or the simulated pods.
func (r *run) readyAt(now time.Time) int32 {
	if r.step >= 0 && r.tr.Samples[r.step].HasReadyPods {
		return r.tr.Samples[r.step].ReadyPods
	}
	return r.pods.ready(now)
}

// tick runs the decider and the bounds logic at t.
func (r *run) tick(t time.Duration) (Tick, error) {
	now := epoch.Add(t)
	ready := r.readyAt(now)
	sc, pc, errC := r.col.StableAndPanicConcurrency(simKey, now)
	sr, pr, errR := r.col.StableAndPanicRPS(simKey, now)
	obs := autoscaler.Observation{ReadyPods: ready, Stable: sc, Panic: pc}
	errM := errC
	if r.spec.Metric == autoscaler.MetricRPS {
		obs.Stable, obs.Panic, errM = sr, pr, errR
	}
	if errM != nil {
		if !errors.Is(errM, autoscaler.ErrNoData) {
			return Tick{}, errM
		}
		obs.NoData = true
		sc, pc, sr, pr = 0, 0, 0, 0
	}
	dec := r.decider.Decide(now, obs)
	res := r.bounds.Reconcile(now, r.decider.Status(), ready)
	r.pods.scaleTo(now, res.Replicas)
	return Tick{
		At:                  t,
		ReadyPods:           ready,
		StableConcurrency:   sc,
		PanicConcurrency:    pc,
		StableRPS:           sr,
		PanicRPS:            pr,
		Desired:             dec.DesiredPodCount,
		ExcessBurstCapacity: dec.ExcessBurstCapacity,
		Panic:               dec.Panic,
		Scale:               res.Replicas,
		Valid:               dec.Valid,
		State:               res.State,
		ActivatorInPath:     res.ActivatorInPath,
	}, nil
}

// loadAt returns the (concurrency, rps, recorded) step in effect at t.
func loadAt(tr *Trace, t time.Duration) (float64, float64, bool) {
	i, found := slices.BinarySearchFunc(tr.Samples, t, func(s Sample, t time.Duration) int {
		return cmp.Compare(s.At, t)
	})
	if !found {
		i--
	}
	if i < 0 || tr.Samples[i].NoData {
		return 0, 0, false
	}
	return tr.Samples[i].Concurrency, tr.Samples[i].RPS, true
}

// HPASyncPeriod is how often the HPA decides in an HPA-class simulation:
// Kubernetes' default (kube-controller-manager
// --horizontal-pod-autoscaler-sync-period).
const HPASyncPeriod = 15 * time.Second

// simulateHPA runs an HPA-class trace: see Simulate.
func simulateHPA(tr *Trace) ([]Tick, error) {
	spec := tr.spec()
	hs, _ := hpa.SpecFor(spec)
	d, err := hpa.New(hs)
	if err != nil {
		return nil, err
	}
	r := &run{tr: tr, spec: spec, step: -1, pods: &pods{startup: tr.PodStartup}}
	// The Deployment starts at its initial scale, at least min and one.
	scale := max(spec.InitialScale, hs.Min, 1)
	r.pods.scaleTo(epoch, scale)
	ticks := make([]Tick, 0, int(tr.Duration/HPASyncPeriod))
	usages := make([]float64, 0, 16)
	for t := HPASyncPeriod; t <= tr.Duration; t += HPASyncPeriod {
		now := epoch.Add(t)
		r.advance(t)
		ready := r.readyAt(now)
		usages = usages[:0]
		cpu := 0.0
		valid := r.step >= 0 && !tr.Samples[r.step].NoData && ready > 0
		if valid {
			cpu = tr.Samples[r.step].CPU / float64(ready)
			for range ready {
				usages = append(usages, cpu)
			}
		}
		// The HPA counts the pods it asked for; those not ready yet have
		// no usage (see hpa.Decider.Decide).
		dec := d.Decide(now, scale, usages)
		scale = dec.Replicas
		r.pods.scaleTo(now, scale)
		ticks = append(ticks, Tick{
			At:        t,
			ReadyPods: ready,
			Desired:   dec.Recommendation,
			Scale:     scale,
			Valid:     valid,
			HPA:       true,
			CPU:       cpu,
		})
	}
	return ticks, nil
}

// cpuAt returns the cpu step in effect at t, and whether one was recorded.
func cpuAt(tr *Trace, t time.Duration) (float64, bool) {
	i, found := slices.BinarySearchFunc(tr.Samples, t, func(s Sample, t time.Duration) int {
		return cmp.Compare(s.At, t)
	})
	if !found {
		i--
	}
	if i < 0 || tr.Samples[i].NoData {
		return 0, false
	}
	return tr.Samples[i].CPU, true
}
