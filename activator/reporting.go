// This file owns reporting: the periodic per-revision stats sent to the StatSink and
// the Hooks called on cold starts and rejections.

package activator

import "time"

func (t *Throttler) coldStartEnded(key RevisionKey, d time.Duration) {
	t.log.Info("activator: revision ready after cold start", "revision", key.String(), "coldStart", d)
	if h := t.hooks.ColdStart; h != nil {
		h(key, d)
	}
}

func (t *Throttler) reject(key RevisionKey, reason string) {
	if h := t.hooks.Rejected; h != nil {
		h(key, reason)
	}
}

// report sends every active revision's stats for the period ending at now.
func (t *Throttler) report(now time.Time) {
	t.mu.RLock()
	revs := make([]*revision, 0, len(t.revs))
	for _, rev := range t.revs {
		revs = append(revs, rev)
	}
	t.mu.RUnlock()
	for _, rev := range revs {
		c, n, ok := rev.stats.report(now)
		if ok && t.sink != nil {
			t.sink.RecordStat(rev.key.Namespace, rev.key.Name, now, c, n)
		}
	}
}
