package kube

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
)

// Back-off of the leader's sync of a recorded revision after a failure: 500ms,
// doubling up to 30s.
const (
	syncRetryBase = 500 * time.Millisecond
	syncRetryMax  = 30 * time.Second
	// maxConcurrentSyncs bounds the revisions synced at once after a takeover.
	maxConcurrentSyncs = 4
)

// syncRetryLimiter spaces the retries of a revision's failed syncs: syncRetryBase
// after the first failure, doubling per consecutive failure up to syncRetryMax.
func syncRetryLimiter() workqueue.TypedRateLimiter[types.NamespacedName] {
	return workqueue.NewTypedItemExponentialFailureRateLimiter[types.NamespacedName](syncRetryBase, syncRetryMax)
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
	defer b.mu.Unlock()
	if b.mu.leader == on {
		return
	}
	b.mu.leader = on
	if on {
		// Another leader may have changed things meanwhile: ensure everything again.
		clear(b.mu.tokens)
	}
	for key, info := range b.mu.revs {
		info.resync = on
		if on {
			info.ensured = false
		}
		if q := b.mu.queue; q != nil {
			q.Forget(key) // a new role starts the back-off over
			if on {
				q.Add(key)
			}
		}
	}
}

// runSyncs runs the leader's sync of recorded revisions until ctx is done: a
// rate-limited workqueue, created here and shut down when ctx ends, with
// maxConcurrentSyncs workers. The revisions SetLeader(true) marked before Run are
// queued at once. It returns after every worker has exited.
func (b *Backend) runSyncs(ctx context.Context) {
	rl := syncRetryLimiter()
	q := workqueue.NewTypedRateLimitingQueueWithConfig(rl,
		workqueue.TypedRateLimitingQueueConfig[types.NamespacedName]{Clock: b.clock})
	b.mu.Lock()
	b.mu.queue = q
	for key, info := range b.mu.revs {
		if info.resync && b.mu.leader {
			q.Add(key)
		}
	}
	b.mu.Unlock()
	var wg sync.WaitGroup
	for range maxConcurrentSyncs {
		wg.Go(func() {
			for b.syncNext(ctx, q, rl) {
			}
		})
	}
	<-ctx.Done()
	b.mu.Lock()
	b.mu.queue = nil
	b.mu.Unlock()
	q.ShutDown()
	wg.Wait()
}

// syncNext syncs the next queued revision, and reports false once q is shut down.
func (b *Backend) syncNext(ctx context.Context, q workqueue.TypedRateLimitingInterface[types.NamespacedName], rl workqueue.TypedRateLimiter[types.NamespacedName]) bool {
	key, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(key)
	b.syncOne(ctx, q, rl, key)
	return true
}

// syncOne syncs one queued revision and, if that fails while this Backend is still
// the leader of the same revision, queues it again after its back-off (rl, q's
// rate limiter: q.AddRateLimited, with the wait known for the log).
func (b *Backend) syncOne(ctx context.Context, q workqueue.TypedRateLimitingInterface[types.NamespacedName], rl workqueue.TypedRateLimiter[types.NamespacedName], key types.NamespacedName) {
	b.mu.Lock()
	info := b.mu.revs[key]
	if info != nil {
		info.resync = false
	}
	b.mu.Unlock()
	if info == nil {
		q.Forget(key)
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
		q.Forget(key)
	} else if b.mu.leader && b.mu.revs[key] == info {
		delay = rl.When(key)
		q.AddAfter(key, delay)
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
	want := info.hpa
	b.mu.Unlock()
	if want != nil && !stop {
		// An HPA-class revision: its replicas are the HPA's.
		return b.ensureHPA(ctx, rev, want)
	}
	if !scaled || stop {
		return nil
	}
	return b.writeScale(ctx, key.Namespace, info.deployment, replicas)
}
