// This file owns pod health probing: a prober per pod not yet healthy, Knative's
// `K-Network-Probe: queue` request, and taking an unreachable pod out of use until it
// passes again.

package activator

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/servekit/servekit/queue"
)

// podUnreachable takes a pod that refused a request out of use and probes it again.
func (t *Throttler) podUnreachable(rev *revision, tr *Tracker, cause error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	rev.mu.Lock()
	defer rev.mu.Unlock()
	p := rev.pods[tr.addr]
	if p == nil || p.tracker != tr || !p.healthy {
		return
	}
	t.log.Warn("activator: pod unreachable, probing it again", "revision", rev.key.String(), "address", tr.addr, "error", cause.Error())
	p.healthy = false
	t.startProberLocked(rev, p)
	t.recomputeLocked(rev, t.clock.Now())
}

// startProberLocked starts probing p until it passes (t.mu and rev.mu held). Without
// Run, nothing starts: Run starts the probers it finds.
func (t *Throttler) startProberLocked(rev *revision, p *pod) {
	if t.runCtx == nil {
		return
	}
	ctx, cancel := context.WithCancel(t.runCtx)
	p.stop = cancel
	t.wg.Go(func() {
		defer cancel()
		t.probeLoop(ctx, rev, p)
	})
}

func (t *Throttler) probeLoop(ctx context.Context, rev *revision, p *pod) {
	for {
		err := t.probe(ctx, p.tracker.addr)
		if err == nil {
			t.podHealthy(ctx, rev, p)
			return
		}
		if ctx.Err() != nil {
			return
		}
		t.log.Debug("activator: probe failed", "revision", rev.key.String(), "address", p.tracker.addr, "error", err.Error())
		timer := t.clock.NewTimer(t.probeInterval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C():
		}
	}
}

func (t *Throttler) podHealthy(ctx context.Context, rev *revision, p *pod) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	rev.mu.Lock()
	if ctx.Err() != nil || rev.pods[p.tracker.addr] != p {
		rev.mu.Unlock()
		return // removed while the probe ran
	}
	p.healthy, p.stop = true, nil
	d, ended := t.recomputeLocked(rev, t.clock.Now())
	rev.mu.Unlock()
	t.log.Debug("activator: pod ready", "revision", rev.key.String(), "address", p.tracker.addr)
	if ended {
		t.coldStartEnded(rev.key, d)
	}
}

// probeUserAgent is Knative's, so a Knative queue-proxy recognises the probe.
const probeUserAgent = "Knative-Activator-Probe"

// probe asks the pod's queue proxy whether it is ready: 200 with body "queue".
func (t *Throttler) probe(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, t.probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return err
	}
	req.Header.Set(queue.ProbeHeaderName, queue.ProbeHeaderValue)
	req.Header.Set("User-Agent", probeUserAgent)
	req.Header.Set(queue.ProxyHeaderName, queue.ProxyHeaderValue)
	if t.peerToken != "" {
		req.Header.Set(queue.PeerTokenHeader, t.peerToken)
	}
	resp, err := t.transport.RoundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || string(body) != queue.ProbeHeaderValue {
		return fmt.Errorf("status %d, body %q; want 200 %q", resp.StatusCode, body, queue.ProbeHeaderValue)
	}
	return nil
}
