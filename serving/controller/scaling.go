package controller

import (
	"context"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/serving/ingress"
)

// podCounter tells the autoscaler how many pods of a revision are ready.
type podCounter struct{ c *Controller }

func (p podCounter) ReadyPods(key types.NamespacedName) (int, error) {
	n := 0
	for _, pod := range p.c.backend.Pods(key) {
		if pod.Ready && !pod.Terminating {
			n++
		}
	}
	return n, nil
}

// scraper reads the stats of every ready pod from the backend: in-process there is
// no need for Knative's sampling, so the sum is the revision total.
type scraper struct{ c *Controller }

func (s scraper) Scrape(_ context.Context, key types.NamespacedName, now time.Time, _ autoscaler.Spec) (autoscaler.Stat, error) {
	stats := s.c.backend.Stats(key, now)
	if len(stats) == 0 {
		return autoscaler.Stat{}, autoscaler.ErrNoPods
	}
	total := autoscaler.Stat{PodName: "service-scraper"}
	for _, st := range stats {
		total.AverageConcurrentRequests += st.AverageConcurrentRequests
		total.AverageProxiedConcurrentRequests += st.AverageProxiedConcurrentRequests
		total.RequestCount += st.RequestCount
		total.ProxiedRequestCount += st.ProxiedRequestCount
	}
	return total, nil
}

// scaleSetter applies the autoscaler's results: the replica count to the backend,
// the SKS mode (activator in the path or not) to the ingress.
type scaleSetter struct{ c *Controller }

func (s scaleSetter) SetScale(_ context.Context, key types.NamespacedName, r autoscaler.ScaleResult) error {
	c := s.c
	c.mu.Lock()
	st := c.mu.state[key]
	if st == nil {
		c.mu.Unlock()
		return nil // deleted meanwhile
	}
	old, had := st.result, st.haveResult
	st.result, st.haveResult = r, true
	dp := st.dp
	changed := !had || old.Replicas != r.Replicas || old.ActivatorInPath != r.ActivatorInPath
	if changed {
		c.mu.dirty.revs.add(key) // its status and metrics show them
	}
	c.mu.Unlock()

	if !had || old.Replicas != r.Replicas {
		from := int32(-1)
		if had {
			from = old.Replicas
		}
		ds, _, _ := c.scaler.Status(key)
		c.log.Info("scaling decision", "revision", key.String(), "from", from, "to", r.Replicas,
			"want", r.Want, "desiredScale", ds.DesiredScale, "excessBurstCapacity", ds.ExcessBurstCapacity,
			"state", r.State.String(), "activatorInPath", r.ActivatorInPath)
		if err := c.backend.Scale(key, int(r.Replicas)); err != nil {
			return err
		}
	}
	// Serve mode needs ready pods too: with none, traffic must wait in the activator.
	if dp.SetActivatorInPath(r.ActivatorInPath) {
		c.log.Info("activator placement", "revision", key.String(), "activatorInPath", r.ActivatorInPath)
	}
	if changed {
		c.kick()
	}
	return nil
}

// recordActivatorStat pushes the activator's per-revision stats (and its
// scale-from-zero poke) into the autoscaler, then hands them to
// Options.OnActivatorStat.
func (c *Controller) recordActivatorStat(namespace, name string, _ time.Time, concurrency, requestCount float64) {
	c.RecordActivatorStat(namespace, name, concurrency, requestCount)
	if concurrency > 0 {
		// Requests in the activator: report the revision (its queue depth).
		c.markPending(types.NamespacedName{Namespace: namespace, Name: name})
	}
	if c.onActStat != nil {
		c.onActStat(namespace, name, concurrency, requestCount)
	}
}

// RecordActivatorStat records one second of an activator's traffic for a revision:
// its average concurrency and its request count. A nonzero concurrency for a
// revision scaled to zero pokes the autoscaler at once, as the activator's own
// reports do. Use it for the reports of another replica's activator (see
// Options.OnActivatorStat); the activator of this controller is recorded already.
// Reports for an unknown revision are dropped.
func (c *Controller) RecordActivatorStat(namespace, name string, concurrency, requestCount float64) {
	_ = c.scaler.Push(types.NamespacedName{Namespace: namespace, Name: name}, autoscaler.Stat{
		PodName:                   "activator",
		AverageConcurrentRequests: concurrency,
		RequestCount:              requestCount,
	})
}

// UpdateActivators tells this controller's activator that it is number index
// (0-based, in an order every replica agrees on) of count replicas taking traffic,
// so that for revisions with containerConcurrency > 0 each replica sends to its own
// subset of the pods and the replicas' capacities add up to the revision's
// (Knative's activator subsetting). With fewer pods than replicas each replica uses
// one pod (index mod pods), as Knative's does; the pod's queue proxy absorbs the
// overlap. The default is 0 of 1 (alone); index -1 or count <= 1 means every pod.
func (c *Controller) UpdateActivators(index, count int) error {
	return c.throttler.UpdateActivators(index, count)
}

// podsChanged is the backend's notification: refresh the revision's endpoints in the
// activator and the ingress, then reconcile the revision (status). It must not take
// c.mu: the backend may call it while the controller, holding c.mu, calls the
// backend.
func (c *Controller) podsChanged(key types.NamespacedName) {
	if dp := (*c.dp.Load())[key]; dp != nil {
		c.refreshEndpoints(key, dp)
	}
	c.markPending(key)
}

// refreshEndpoints reads the revision's ready pods from the backend and, if they
// changed, hands them to the ingress and the activator. Reading and storing happen
// under epMu, so an older read never overwrites a newer one. The full resync
// calls it too, so a missed notification heals within FullResyncInterval.
func (c *Controller) refreshEndpoints(key types.NamespacedName, dp *ingress.Revision) {
	c.epMu.Lock()
	defer c.epMu.Unlock()
	addrs := []string{}
	for _, p := range c.backend.Pods(key) {
		if p.Ready && !p.Terminating {
			addrs = append(addrs, p.Address)
		}
	}
	if slices.Equal(addrs, dp.Addresses()) {
		return
	}
	dp.SetAddresses(addrs)
	if err := c.throttler.UpdateEndpoints(dp.Key(), addrs); err != nil {
		c.log.Error("activator endpoints", "revision", key.String(), "err", err)
	}
}

// tickReporter remembers each revision's panic mode for metrics and status.
type tickReporter struct{ c *Controller }

func (t tickReporter) ReportTick(r autoscaler.TickReport) {
	old, _ := t.c.panics.Swap(r.Key, r.Decision.Panic)
	if was, _ := old.(bool); was != r.Decision.Panic { // none yet reads as false, as panicking does
		t.c.markPending(r.Key) // its metrics show the panic mode
	}
}
