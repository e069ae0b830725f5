// This file owns admission: Try, which queues a request until its revision has
// capacity, picks a pod and fails over to another when the pod is unreachable, and the
// deadline-aware admission of requests to a cold revision.

package activator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"time"

	"github.com/servekit/servekit/queue"
)

// Try waits until the revision has capacity, reserves a pod and calls fn with its
// address, all within ctx (whose deadline should be the revision timeout). It returns
// fn's error, or without calling fn:
//   - ErrUnknownRevision (wrapped) for a revision not known (or removed meanwhile);
//   - queue.ErrRequestQueueFull when Options.QueueDepth requests already wait, or
//     (TrySized) when this one would take the waiting requests past Options.QueueBytes;
//   - a *DeadlineError when ctx's deadline ends before the cold start would;
//   - ctx.Err() when ctx ended first.
//
// When fn returns an error wrapping ErrPodUnreachable, the pod is marked unhealthy and
// fn is called again with another pod (MaxAttempts in all).
func (t *Throttler) Try(ctx context.Context, key RevisionKey, fn func(dest string) error) error {
	return t.TrySized(ctx, key, 0, fn)
}

// TrySized is Try for a request that holds size bytes while it waits (its head:
// RequestHeadSize), counted against Options.QueueBytes. A request is admitted when no
// other waits, whatever its size, so that one large request is never refused forever.
func (t *Throttler) TrySized(ctx context.Context, key RevisionKey, size int64, fn func(dest string) error) error {
	t.mu.RLock()
	rev := t.revs[key]
	t.mu.RUnlock()
	if rev == nil {
		t.reject(key, ReasonUnknownRevision)
		return fmt.Errorf("%w %s", ErrUnknownRevision, key)
	}
	start := t.clock.Now()
	if rev.stats.begin(start) && t.sink != nil {
		t.sink.RecordStat(key.Namespace, key.Name, start, 1, 1)
	}
	defer func() { rev.stats.end(t.clock.Now()) }()
	if n := rev.waiting.Add(1); n > t.depth {
		rev.waiting.Add(-1)
		t.reject(key, ReasonQueueFull)
		return queue.ErrRequestQueueFull
	}
	if size > 0 && t.queueBytes > 0 {
		if b := rev.waitingBytes.Add(size); b > t.queueBytes && b != size {
			rev.waitingBytes.Add(-size)
			rev.waiting.Add(-1)
			t.reject(key, ReasonQueueFull)
			return queue.ErrRequestQueueFull
		}
	} else {
		size = 0
	}
	// One admission (and one closure, its run method) for all attempts, rather than a
	// closure per attempt with its captured results escaping each on its own.
	a := &admission{t: t, rev: rev, start: start, size: size, fn: fn, waiting: true}
	defer func() {
		if a.waiting {
			rev.leaveQueue(size)
		}
	}()
	if len(*rev.assigned.Load()) == 0 {
		if err := t.admitCold(ctx, rev, start); err != nil {
			t.reject(key, ReasonDeadline)
			return err
		}
	}
	run := a.run
	for attempts := 1; ; attempts++ {
		a.picked, a.ferr = false, nil
		err := rev.breaker.Maybe(ctx, run)
		picked, ferr := a.picked, a.ferr
		switch {
		case err != nil:
			if errors.Is(err, context.DeadlineExceeded) {
				t.reject(key, ReasonTimeout)
			}
			return err
		case !picked:
			// Capacity and pods disagreed for a moment (an update is in progress, or the
			// revision went away): queue again, as Knative does.
			if rev.removed.Load() {
				t.reject(key, ReasonUnknownRevision)
				return fmt.Errorf("%w %s", ErrUnknownRevision, key)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			runtime.Gosched()
			continue
		case ferr != nil && errors.Is(ferr, ErrPodUnreachable) && attempts < MaxAttempts && ctx.Err() == nil:
			t.log.Info("activator: failing over to another pod", "revision", key.String(), "error", ferr.Error())
			continue
		}
		return ferr
	}
}

// admission is one TrySized call's state across its attempts. run is the breaker's
// thunk: it runs on the caller's goroutine, inside Maybe, so the fields need no lock.
type admission struct {
	t       *Throttler
	rev     *revision
	start   time.Time
	size    int64
	fn      func(dest string) error
	waiting bool  // still counted in the revision's waiting requests
	picked  bool  // this attempt got a pod
	ferr    error // fn's error on this attempt
}

// run picks a pod for one attempt and calls fn with it, holding the pod's slot.
func (a *admission) run() {
	t, rev := a.t, a.rev
	tr := rev.policy(*rev.assigned.Load())
	if tr == nil {
		return
	}
	defer func() {
		tr.Release()
		if tr.orphaned.Load() {
			t.orphanDone(rev)
		}
	}()
	a.picked = true
	if a.waiting {
		a.waiting = false
		rev.leaveQueue(a.size)
		if h := t.hooks.QueueWait; h != nil {
			h(rev.key, t.clock.Since(a.start))
		}
	}
	a.ferr = a.fn(tr.addr)
	if a.ferr != nil && errors.Is(a.ferr, ErrPodUnreachable) {
		t.podUnreachable(rev, tr, a.ferr)
	}
}

// leaveQueue takes a request of size bytes (TrySized) out of the revision's waiting
// counts.
func (rev *revision) leaveQueue(size int64) {
	rev.waiting.Add(-1)
	if size > 0 {
		rev.waitingBytes.Add(-size)
	}
}

// RequestHeadSize estimates the bytes a request holds while it waits: its request
// line, Host and headers (what a client controls, up to the server's MaxHeaderBytes),
// not its body, which the activator streams and never buffers.
func RequestHeadSize(r *http.Request) int64 {
	n := len(r.Method) + len(r.RequestURI) + len(r.Host) + 16
	if r.RequestURI == "" && r.URL != nil {
		n += len(r.URL.Path) + len(r.URL.RawQuery)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4 // ": " and CRLF
		}
	}
	return int64(n)
}

// admitCold applies deadline-aware admission to a request that would wait for a
// revision with no pod: it fails when ctx's deadline comes before the revision's last
// observed cold start (measured from the first waiting request) would end.
func (t *Throttler) admitCold(ctx context.Context, rev *revision, now time.Time) error {
	rev.mu.Lock()
	if len(*rev.assigned.Load()) > 0 {
		rev.mu.Unlock()
		return nil
	}
	if rev.coldSince.IsZero() {
		rev.coldSince = now
	}
	observed := rev.coldStart
	expected := observed - now.Sub(rev.coldSince)
	rev.mu.Unlock()
	if observed <= 0 || expected <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok {
		if rem := dl.Sub(now); rem < expected {
			return &DeadlineError{Key: rev.key, Remaining: rem, Expected: expected}
		}
	}
	return nil
}
