// This file owns the capacity math: which healthy pods this activator uses
// (subsetting among activators, UpdateActivators), the revision breaker's capacity from
// them and from requests still in flight to orphaned pods, and the end of a cold start.
// The breaker types themselves are in gate.go.

package activator

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// UpdateActivators tells the Throttler that count activators share the revisions and
// this one is number index (0-based, in an order all activators agree on, e.g. sorted
// addresses). For containerConcurrency > 0 each activator then uses its own subset of
// the pods (Knative's subsetting), so that the sum of the activators' capacities is the
// revision's. index -1 or count <= 1 means all pods.
func (t *Throttler) UpdateActivators(index, count int) error {
	if count < 0 || index < -1 || (count > 0 && index >= count) {
		return fmt.Errorf("activator: UpdateActivators: index %d out of range for count %d", index, count)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.index, t.count = index, count
	now := t.clock.Now()
	for _, rev := range t.revs {
		rev.mu.Lock()
		d, ended := t.recomputeLocked(rev, now)
		rev.mu.Unlock()
		if ended {
			t.coldStartEnded(rev.key, d)
		}
	}
	return nil
}

// recomputeLocked rebuilds the revision's assigned pods and capacity after a change of
// pods, health or subsetting; rev.mu and t.mu (read) are held. It reports the length
// of a cold start that this change ended.
func (t *Throttler) recomputeLocked(rev *revision, now time.Time) (time.Duration, bool) {
	if rev.removed.Load() {
		return 0, false
	}
	healthy := make([]*Tracker, 0, len(rev.pods))
	for _, p := range rev.pods {
		if p.healthy {
			p.tracker.SetCapacity(rev.cc)
			healthy = append(healthy, p.tracker)
		}
	}
	slices.SortFunc(healthy, func(a, b *Tracker) int { return strings.Compare(a.addr, b.addr) })
	assigned := healthy
	if rev.cc > 0 {
		assigned = assignSlice(healthy, t.index, t.count)
	}
	inNew := make(map[*Tracker]bool, len(assigned))
	for _, tr := range assigned {
		inNew[tr] = true
		if tr.orphaned.Load() {
			tr.orphaned.Store(false)
			delete(rev.orphans, tr)
		}
	}
	for _, tr := range *rev.assigned.Load() {
		if !inNew[tr] {
			// Flag first, then count (in updateCapacityLocked): a request that releases
			// the tracker and then sees no flag released before the count was taken.
			tr.orphaned.Store(true)
			rev.orphans[tr] = struct{}{}
		}
	}
	// Trackers first, capacity last: a request released by more capacity always finds
	// the pod that brought it.
	rev.assigned.Store(&assigned)
	t.updateCapacityLocked(rev)
	if len(assigned) > 0 && !rev.coldSince.IsZero() {
		d := now.Sub(rev.coldSince)
		rev.coldSince, rev.coldStart = time.Time{}, d
		return d, true
	}
	return 0, false
}

// updateCapacityLocked sets the revision breaker's capacity from its assigned pods and
// the requests still in flight to orphaned trackers; rev.mu is held.
func (t *Throttler) updateCapacityLocked(rev *revision) {
	c := capacityFor(rev.cc, len(*rev.assigned.Load()))
	if rev.cc > 0 {
		extra := 0
		for tr := range rev.orphans {
			if n := tr.InFlight(); n > 0 {
				extra += n
			} else {
				delete(rev.orphans, tr)
				tr.orphaned.Store(false)
			}
		}
		c = min(c+extra, math.MaxInt32)
	} else {
		clear(rev.orphans) // a gate has no count to correct
	}
	rev.breaker.UpdateConcurrency(c)
}

// orphanDone is called when a request to an orphaned tracker ended.
func (t *Throttler) orphanDone(rev *revision) {
	rev.mu.Lock()
	defer rev.mu.Unlock()
	if !rev.removed.Load() {
		t.updateCapacityLocked(rev)
	}
}
