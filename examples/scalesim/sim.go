package main

import (
	"errors"
	"slices"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler"
)

// Tick is one decider run: one output line.
type Tick struct {
	// At is the tick's time, e.g. "2s".
	At string `json:"at"`
	// ReadyPods is the ready pod count the decider saw.
	ReadyPods int32 `json:"readyPods"`
	// StableConcurrency and the next three are the window averages at the
	// tick (0 on an invalid tick).
	StableConcurrency float64 `json:"stableConcurrency"`
	// PanicConcurrency is the panic-window concurrency average.
	PanicConcurrency float64 `json:"panicConcurrency"`
	// StableRPS is the stable-window requests-per-second average.
	StableRPS float64 `json:"stableRPS"`
	// PanicRPS is the panic-window requests-per-second average.
	PanicRPS float64 `json:"panicRPS"`
	// Desired is the decider's DesiredPodCount (its last one when invalid).
	Desired int32 `json:"desired"`
	// ExcessBurstCapacity is the decider's EBC.
	ExcessBurstCapacity int32 `json:"excessBurstCapacity"`
	// Panic is the decider's panic mode after the tick.
	Panic bool `json:"panic"`
	// Scale is the replica count applied after bounds and gating.
	Scale int32 `json:"scale"`
	// Valid is false when the decider had no data.
	Valid bool `json:"valid"`

	// Seconds is At as a number (for charts and CSV).
	Seconds int `json:"-"`
	// State is the revision's activity from the bounds logic (CSV only).
	State autoscaler.State `json:"-"`
	// ActivatorInPath is the bounds logic's activator placement (CSV only).
	ActivatorInPath bool `json:"-"`
}

// Epoch is t = 0: the Unix epoch, so the decider's 2-second scale-down-delay
// slots line up with the ticks.
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

// Simulate runs the trace through the collector, decider and bounds
// exactly as a platform would and returns one Tick per decider run.
//
// For every whole second t in [0, duration]: the step in effect at t is
// recorded for second t; then, if t > 0 and t is even, the decider runs at
// now = t with the ready pods in effect and the bounds logic decides the
// applied scale, which the simulated pods follow.
func Simulate(tr *Trace) ([]Tick, error) {
	spec := tr.Spec
	col := autoscaler.NewCollector()
	col.CreateOrUpdate(simKey, spec, epoch)
	p := &pods{startup: tr.PodStartup}
	bounds := autoscaler.NewBounds(spec, epoch)
	p.scaleTo(epoch, bounds.Replicas())

	step := -1 // index of the sample in effect
	readyAt := func(now time.Time) int32 {
		if step >= 0 && tr.Samples[step].HasReadyPods {
			return tr.Samples[step].ReadyPods
		}
		return p.ready(now)
	}
	advance := func(t time.Duration) {
		for step+1 < len(tr.Samples) && tr.Samples[step+1].At <= t {
			step++
		}
	}
	advance(0)
	decider := autoscaler.NewDecider(spec, readyAt(epoch), epoch)

	var ticks []Tick
	for s := 0; time.Duration(s)*time.Second <= tr.Duration; s++ {
		t := time.Duration(s) * time.Second
		now := epoch.Add(t)
		advance(t)
		if step >= 0 && !tr.Samples[step].NoData {
			sm := tr.Samples[step]
			if err := col.Record(simKey, now, autoscaler.Stat{AverageConcurrentRequests: sm.Concurrency, RequestCount: sm.RPS}); err != nil {
				return nil, err
			}
		}
		if s == 0 || s%2 != 0 {
			continue
		}
		ready := readyAt(now)
		sc, pc, errC := col.StableAndPanicConcurrency(simKey, now)
		sr, pr, errR := col.StableAndPanicRPS(simKey, now)
		obs := autoscaler.Observation{ReadyPods: ready, Stable: sc, Panic: pc}
		errM := errC
		if spec.Metric == autoscaler.MetricRPS {
			obs.Stable, obs.Panic, errM = sr, pr, errR
		}
		if errM != nil {
			if !errors.Is(errM, autoscaler.ErrNoData) {
				return nil, errM
			}
			obs.NoData = true
			sc, pc, sr, pr = 0, 0, 0, 0
		}
		dec := decider.Decide(now, obs)
		res := bounds.Reconcile(now, decider.Status(), ready)
		p.scaleTo(now, res.Replicas)
		ticks = append(ticks, Tick{
			At:                  strconv.Itoa(s) + "s",
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
			Seconds:             s,
			State:               res.State,
			ActivatorInPath:     res.ActivatorInPath,
		})
	}
	return ticks, nil
}

// loadAt returns the (concurrency, rps, recorded) step in effect at t.
func loadAt(tr *Trace, t time.Duration) (float64, float64, bool) {
	i, found := slices.BinarySearchFunc(tr.Samples, t, func(s Sample, t time.Duration) int {
		return int((s.At - t) / time.Second)
	})
	if !found {
		i--
	}
	if i < 0 || tr.Samples[i].NoData {
		return 0, 0, false
	}
	return tr.Samples[i].Concurrency, tr.Samples[i].RPS, true
}
