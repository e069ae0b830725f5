package kube

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/types"
)

// Back-off of the leader's sync of a recorded revision after a failure: 500ms,
// doubling up to 30s.
const (
	syncRetryBase = 500 * time.Millisecond
	syncRetryMax  = 30 * time.Second
	// maxConcurrentSyncs bounds the revisions synced at once after a takeover.
	maxConcurrentSyncs = 4
)

// retryDelay is the wait after the n-th consecutive failure (n >= 1).
func retryDelay(n int) time.Duration {
	d := syncRetryBase
	for i := 1; i < n && d < syncRetryMax; i++ {
		d *= 2
	}
	return min(d, syncRetryMax)
}

// SetLeader switches the Backend between leader (on) and follower (off). A follower
// records what Apply, Scale and Delete are asked and writes nothing to the API
// server. On becoming the leader, every recorded revision gets its children ensured
// (created, or adopted when they exist and belong to the revision, as Apply does)
// and then its last recorded scale written; this runs in Run's goroutines, and a
// failure is logged and retried with back-off (500ms doubling up to 30s) until it
// succeeds, the revision is deleted or the Backend becomes a follower again. Apply,
// Scale and Delete then write as a leader's. SetLeader never waits for the API
// server; it may be called at any time, before or during Run, concurrently with the
// other methods. Switching to the current role does nothing.
func (b *Backend) SetLeader(on bool) {
	b.mu.Lock()
	if b.mu.leader == on {
		b.mu.Unlock()
		return
	}
	b.mu.leader = on
	clear(b.mu.pending)
	clear(b.mu.failures)
	if on {
		// Another leader may have changed things meanwhile: ensure everything again.
		clear(b.mu.tokens)
		for key, info := range b.mu.revs {
			info.ensured = false
			b.mu.pending[key] = time.Time{}
		}
	}
	b.mu.Unlock()
	if on {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

// syncLoop syncs the pending revisions (those recorded before this Backend became
// the leader, and those whose sync failed, once their back-off is over) until ctx
// ends.
func (b *Backend) syncLoop(ctx context.Context) {
	for ctx.Err() == nil {
		now := b.clock.Now()
		keys, next := b.due(now)
		if len(keys) > 0 {
			b.syncAll(ctx, keys)
			continue
		}
		var wait <-chan time.Time
		var stop func() bool
		if !next.IsZero() {
			t := b.clock.NewTimer(next.Sub(now))
			wait, stop = t.C(), t.Stop
		}
		select {
		case <-ctx.Done():
		case <-b.kick:
		case <-wait:
		}
		if stop != nil {
			stop()
		}
	}
}

// due takes the pending revisions due at now off the list; next is when the
// earliest of the others is due (zero if none). A follower has nothing due.
func (b *Backend) due(now time.Time) (keys []types.NamespacedName, next time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.mu.leader {
		return nil, time.Time{}
	}
	for key, at := range b.mu.pending {
		if !at.After(now) {
			keys = append(keys, key)
			delete(b.mu.pending, key)
		} else if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return keys, next
}

func (b *Backend) syncAll(ctx context.Context, keys []types.NamespacedName) {
	var g errgroup.Group
	g.SetLimit(maxConcurrentSyncs)
	for _, key := range keys {
		g.Go(func() error {
			b.syncOne(ctx, key)
			return nil
		})
	}
	_ = g.Wait()
}

// syncOne syncs one pending revision and, if that fails, puts it back on the list
// after its back-off.
func (b *Backend) syncOne(ctx context.Context, key types.NamespacedName) {
	b.mu.Lock()
	info := b.mu.revs[key]
	b.mu.Unlock()
	if info == nil {
		return // deleted meanwhile
	}
	rctx, cancel := b.requestContext(ctx)
	info.sync.Lock()
	err := b.syncLocked(rctx, key, info)
	info.sync.Unlock()
	cancel()

	var delay time.Duration
	b.mu.Lock()
	if err == nil {
		delete(b.mu.failures, key)
	} else if b.mu.leader && b.mu.revs[key] == info {
		n := b.mu.failures[key] + 1
		b.mu.failures[key] = n
		delay = retryDelay(n)
		if _, ok := b.mu.pending[key]; !ok {
			b.mu.pending[key] = b.clock.Now().Add(delay)
		}
	}
	b.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		b.log.Warn("kube: leader sync of a revision failed; retrying", "revision", key.String(), "retryIn", delay, "err", err)
	}
	if b.syncedHook != nil {
		b.syncedHook(key, err)
	}
}

// syncLocked makes the cluster hold what is recorded for the revision, if this
// Backend is the leader and the revision was not deleted: its children created or
// adopted (unless done already), then its last recorded scale (if any). Called with
// info.sync held, so that the last recorded scale is the last written.
func (b *Backend) syncLocked(ctx context.Context, key types.NamespacedName, info *revInfo) error {
	b.mu.Lock()
	if info.deleted || !b.mu.leader {
		b.mu.Unlock()
		return nil
	}
	rev, ensured := info.rev, info.ensured
	b.mu.Unlock()
	if !ensured {
		dep, err := makeDeployment(rev, b.pc)
		if err != nil {
			return err
		}
		if err := b.createChildren(ctx, rev, dep); err != nil {
			return err
		}
		b.mu.Lock()
		if info.rev.UID == rev.UID {
			info.ensured = true
		}
		b.mu.Unlock()
	}
	b.mu.Lock()
	replicas, scaled := info.replicas, info.scaled
	stop := info.deleted || !b.mu.leader
	b.mu.Unlock()
	if !scaled || stop {
		return nil
	}
	return b.writeScale(ctx, key.Namespace, info.deployment, replicas)
}
