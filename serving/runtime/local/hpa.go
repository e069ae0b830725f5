package local

import (
	"context"
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/autoscaler/hpa"
	"github.com/servekit/servekit/serving/runtime"
)

// DefaultHPASyncPeriod is Options.HPASyncPeriod's default: Kubernetes' HPA sync
// period.
const DefaultHPASyncPeriod = 15 * time.Second

var _ runtime.HPAScaler = Backend{}

// hpaState is a revision's HPA. Guarded by Runtime.mu.
type hpaState struct {
	decider *hpa.Decider
	metric  string // autoscaler.MetricCPU or MetricMemory
	// last is each measured pod's previous CPU reading, by pod name: a pod's
	// CPU use is the difference over the wall time between two readings.
	last map[string]cpuReading
	// desired is the replica count last decided (the initial one before).
	desired int32
	// message says why the pods could not be measured at the last tick.
	message string
}

type cpuReading struct {
	seconds float64 // CPU seconds of the pod's processes
	at      time.Time
}

// SetHPA makes the runtime scale revision key (applied before) with the HPA
// algorithm of package autoscaler/hpa, as a Kubernetes HorizontalPodAutoscaler would
// (hpa.SpecFor: Knative's MakeHPA): every Options.HPASyncPeriod it reads each ready
// pod's CPU use — the user and system time of the pod's process group and its
// descendants, from /proc, over the wall time since the last reading — as a
// percentage of the container's resources.requests.cpu (metric cpu), or their
// resident memory (metric memory), and scales the revision between min-scale (at
// least 1) and max-scale. The first call starts the revision at its initial scale
// (at least min-scale and 1); a later one replaces the spec and keeps the
// recommendations already made. The cpu metric without a CPU request is an error
// naming the field, as Kubernetes cannot compute a utilisation either. Where /proc
// is missing (not Linux), the revision stays at its initial scale and HPAStatus
// says why.
func (r *Runtime) SetHPA(key types.NamespacedName, spec autoscaler.Spec) error {
	hs, metric := hpa.SpecFor(spec)
	r.mu.Lock()
	rev, ok := r.mu.revs[key]
	if !ok || rev.deleted {
		r.mu.Unlock()
		return fmt.Errorf("local: SetHPA %s: revision not applied", key)
	}
	if metric == autoscaler.MetricCPU && rev.spec.cpuRequest <= 0 {
		r.mu.Unlock()
		return fmt.Errorf("local: revision %s: spec.containers[0].resources.requests.cpu is required by the HPA class with metric cpu: its target (%v%%) is a percentage of the CPU request, as in Kubernetes", key, hs.Target)
	}
	if rev.hpa != nil {
		defer r.mu.Unlock()
		if err := rev.hpa.decider.SetSpec(hs); err != nil {
			return fmt.Errorf("local: revision %s: %w", key, err)
		}
		rev.hpa.metric = metric
		return nil
	}
	d, err := hpa.New(hs)
	if err != nil {
		r.mu.Unlock()
		return fmt.Errorf("local: revision %s: %w", key, err)
	}
	initial := max(spec.InitialScale, hs.Min)
	if hs.Max > 0 {
		initial = min(initial, hs.Max)
	}
	rev.hpa = &hpaState{decider: d, metric: metric, last: map[string]cpuReading{}, desired: initial}
	changed := r.reconcileLocked(rev, int(initial))
	notify := r.mu.notify
	r.mu.Unlock()
	if changed && notify != nil {
		notify(key)
	}
	return nil
}

// HPAStatus returns the replica count the revision's HPA last decided and why it
// could not measure the pods, if it could not; zero for a revision without one.
func (r *Runtime) HPAStatus(key types.NamespacedName) runtime.HPAStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	rev, ok := r.mu.revs[key]
	if !ok || rev.hpa == nil {
		return runtime.HPAStatus{}
	}
	return runtime.HPAStatus{DesiredReplicas: rev.hpa.desired, Message: rev.hpa.message}
}

// hpaLoop runs the HPA of every revision that has one, every HPASyncPeriod, until
// ctx is done.
func (r *Runtime) hpaLoop(ctx context.Context) {
	for {
		t := r.clock.NewTimer(r.opts.HPASyncPeriod)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		r.hpaTick(r.clock.Now())
	}
}

// hpaPod is a ready pod to measure.
type hpaPod struct {
	name string
	pid  int
}

// hpaTick measures the pods of every HPA revision and applies each decision.
// /proc is read without the runtime's lock.
func (r *Runtime) hpaTick(now time.Time) {
	r.mu.Lock()
	targets := map[types.NamespacedName][]*pod{}
	for key, rev := range r.mu.revs {
		if rev.hpa != nil && !rev.deleted {
			targets[key] = slices.Clone(rev.pods)
		}
	}
	r.mu.Unlock()
	if len(targets) == 0 {
		return
	}
	measured := map[types.NamespacedName][]hpaPod{}
	var pids []int
	for key, pods := range targets {
		for _, p := range pods {
			if s := p.snapshot(); s.State == PodReady && s.PID > 0 {
				measured[key] = append(measured[key], hpaPod{name: s.Name, pid: s.PID})
				pids = append(pids, s.PID)
			}
		}
	}
	usage, readErr := readGroupUsage(pids)

	var changed []types.NamespacedName
	r.mu.Lock()
	for key := range targets {
		rev := r.mu.revs[key]
		if rev == nil || rev.deleted || rev.hpa == nil {
			continue
		}
		h := rev.hpa
		h.message = ""
		if readErr != nil {
			h.message = readErr.Error()
		}
		var usages []float64
		seen := map[string]bool{}
		for _, mp := range measured[key] {
			u, ok := usage[mp.pid]
			if !ok {
				continue
			}
			seen[mp.name] = true
			switch h.metric {
			case autoscaler.MetricMemory:
				usages = append(usages, float64(u.rss))
			default:
				prev, had := h.last[mp.name]
				h.last[mp.name] = cpuReading{seconds: u.cpu, at: now}
				if !had || !now.After(prev.at) {
					continue // a pod's first reading: no interval yet
				}
				cores := max(u.cpu-prev.seconds, 0) / now.Sub(prev.at).Seconds()
				usages = append(usages, cores/rev.spec.cpuRequest*100)
			}
		}
		for name := range h.last {
			if !seen[name] {
				delete(h.last, name)
			}
		}
		current := int32(len(rev.pods))
		dec := h.decider.Decide(now, current, usages)
		if dec.Replicas != h.desired {
			r.logger.Info("hpa: scaling decision", "revision", key.String(), "from", current, "to", dec.Replicas,
				"metric", h.metric, "ratio", dec.Ratio, "recommendation", dec.Recommendation, "measuredPods", len(usages))
		}
		h.desired = dec.Replicas
		if r.reconcileLocked(rev, int(dec.Replicas)) {
			changed = append(changed, key)
		}
	}
	notify := r.mu.notify
	r.mu.Unlock()
	if notify != nil {
		for _, key := range changed {
			notify(key)
		}
	}
}
