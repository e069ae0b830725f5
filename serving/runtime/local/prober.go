package local

// This file runs a pod's probes for one run of its process, as the kubelet and
// Knative's queue proxy do between them:
//
//   - the startup probe, if any, first: every periodSeconds from
//     initialDelaySeconds after the start; failureThreshold failures in a row
//     restart the process; liveness and readiness wait until it passes;
//   - the liveness probe, if any, every periodSeconds: failureThreshold failures
//     in a row take the pod out of rotation and restart the process (SIGTERM, the
//     grace period, SIGKILL; then the crash back-off);
//   - readiness: until the pod is first ready, the Front's own check (the queue
//     proxy's readiness probe, Knative's aggressive 50 ms probing) every
//     readyPoll for up to fastReadyWindow — plus the exec probe, which the queue
//     proxy cannot run — then every periodSeconds: failureThreshold failures in a
//     row take a ready pod out of rotation, successThreshold successes in a row
//     bring it back.

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/servekit/servekit/serving/runtime"
)

// Knative probes a new pod aggressively until it is first ready: the queue proxy
// every 50 ms for 10 s (knative.dev/serving/pkg/queue/readiness), the activator
// every 200 ms. readyPoll is how often the runtime asks the Front meanwhile.
const (
	readyPoll       = 25 * time.Millisecond
	fastReadyWindow = 10 * time.Second
	// execPoll spaces an exec readiness probe's commands meanwhile (the
	// activator's probe frequency): each is a fork.
	execPoll = 200 * time.Millisecond
)

// thresholds counts consecutive results the kubelet's way: a result changes only
// after successes passes in a row, or failures fails in a row.
type thresholds struct {
	successes, failures int // the probe's thresholds, >= 1
	okRun, failRun      int // the current streak of passes and of failures
}

// record counts one result and reports whether the streak it extends has reached
// its threshold: passed after successes passes in a row, failed after failures
// fails in a row.
func (t *thresholds) record(ok bool) (passed, failed bool) {
	if ok {
		t.okRun++
		t.failRun = 0
		return t.okRun >= t.successes, false
	}
	t.failRun++
	t.okRun = 0
	return false, t.failRun >= t.failures
}

// watch runs the pod's probes for one run of its process (see the top of this
// file) until ctx is done: the caller cancels it when the process exits or the pod
// stops, and waits for watch to return.
func (p *pod) watch(ctx context.Context, proc *process, userPort int) {
	ps := p.rev.spec.probes
	pb := newProber(p.rev.spec.env, p.rev.spec.dir)
	defer pb.close()
	started := p.r.clock.Now()
	p.setState(PodStarting, "")

	if s := ps.startup; s != nil && !p.runStartup(ctx, pb, proc, s, userPort, started) {
		return
	}
	var wg sync.WaitGroup
	if s := ps.liveness; s != nil {
		wg.Go(func() { p.runLiveness(ctx, pb, proc, s, userPort, started) })
	}
	p.runReadiness(ctx, pb, proc, ps.readiness, userPort, started)
	wg.Wait()
}

// runStartup runs the startup probe until it passes (true) or fails
// failureThreshold times in a row (the process is restarted) or ctx ends (false).
func (p *pod) runStartup(ctx context.Context, pb *prober, proc *process, s *probeSpec, userPort int, started time.Time) bool {
	if !p.sleepUntil(ctx, started.Add(s.initialDelay)) {
		return false
	}
	t := thresholds{successes: 1, failures: s.failures}
	return p.every(ctx, s.period, func() bool {
		err := pb.attempt(ctx, s, userPort)
		if ctx.Err() != nil {
			return false
		}
		passed, failed := t.record(err == nil)
		if err != nil {
			p.probeFailed(s.kind, err)
		}
		if failed {
			p.restartUnhealthy(ctx, proc, s, err)
		}
		return !passed && !failed
	}) && t.okRun > 0
}

// runLiveness runs the liveness probe until it fails failureThreshold times in a
// row (the process is restarted) or ctx ends.
func (p *pod) runLiveness(ctx context.Context, pb *prober, proc *process, s *probeSpec, userPort int, started time.Time) {
	if !p.sleepUntil(ctx, started.Add(s.initialDelay)) {
		return
	}
	t := thresholds{successes: 1, failures: s.failures}
	p.every(ctx, s.period, func() bool {
		err := pb.attempt(ctx, s, userPort)
		if ctx.Err() != nil {
			return false
		}
		_, failed := t.record(err == nil)
		if err != nil {
			p.probeFailed(s.kind, err)
		}
		if failed {
			p.restartUnhealthy(ctx, proc, s, err)
			return false
		}
		return true
	})
}

// runReadiness brings the pod into rotation the first time fast, then keeps it
// there only while the readiness probe passes, until ctx ends.
func (p *pod) runReadiness(ctx context.Context, pb *prober, proc *process, s *probeSpec, userPort int, started time.Time) {
	if !p.sleepUntil(ctx, started.Add(s.initialDelay)) {
		return
	}
	ready := p.firstReady(ctx, pb, s, userPort)
	if ctx.Err() != nil {
		return
	}
	ready = ready && !proc.isKilled()
	if ready {
		p.setState(PodReady, "")
		// The next check is a period away, as the kubelet's would be.
		if !p.sleepUntil(ctx, p.r.clock.Now().Add(s.period)) {
			return
		}
	}
	t := thresholds{successes: s.successes, failures: s.failures}
	p.every(ctx, s.period, func() bool {
		err := pb.attempt(ctx, s, userPort)
		if ctx.Err() != nil {
			return false
		}
		passed, failed := t.record(err == nil)
		if err != nil {
			p.probeFailed(s.kind, err)
		}
		switch {
		case ready && failed:
			ready = false
			p.setNotReady(fmt.Sprintf("readiness probe failed: %v", err))
		case !ready && passed && !proc.isKilled(): // a process being restarted stays out
			ready = true
			p.setState(PodReady, "")
		}
		return true
	})
}

// firstReady polls the Front's readiness check every readyPoll (and an exec probe,
// which the queue proxy turns into a TCP check, every execPoll) until both pass,
// for at most fastReadyWindow. It reports whether they passed.
func (p *pod) firstReady(ctx context.Context, pb *prober, s *probeSpec, userPort int) bool {
	deadline := p.r.clock.Now().Add(fastReadyWindow)
	ok := false
	var lastExec time.Time
	p.every(ctx, readyPoll, func() bool {
		fctx, cancel := context.WithTimeout(ctx, s.timeout)
		ok = p.front.Ready(fctx)
		cancel()
		if ok && s.exec != nil {
			// A command is a fork: at most one per execPoll.
			if now := p.r.clock.Now(); now.Sub(lastExec) >= execPoll {
				lastExec = now
				ok = pb.attempt(ctx, s, userPort) == nil
			} else {
				ok = false
			}
		}
		return !ok && p.r.clock.Now().Before(deadline)
	})
	return ok
}

// every calls f at once and then every period (a slow f delays the next call, as
// the kubelet's ticker does) while f returns true; it returns false if ctx ended.
func (p *pod) every(ctx context.Context, period time.Duration, f func() bool) bool {
	next := p.r.clock.Now()
	for {
		if !f() {
			return ctx.Err() == nil
		}
		// The next call is due a period after the last was due; if f took longer,
		// it is due now (missed ticks are dropped, as a time.Ticker drops them).
		now := p.r.clock.Now()
		next = next.Add(period)
		if next.Before(now) {
			next = now
		}
		if !p.sleepUntil(ctx, next) {
			return false
		}
	}
}

// sleepUntil waits for t on the runtime's clock; false if ctx ended first.
func (p *pod) sleepUntil(ctx context.Context, t time.Time) bool {
	d := t.Sub(p.r.clock.Now())
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := p.r.clock.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C():
		return true
	case <-ctx.Done():
		return false
	}
}

// probeFailed records a failed attempt as the pod's last probe failure.
func (p *pod) probeFailed(kind probeKind, err error) {
	p.mu.Lock()
	p.mu.lastProbe = runtime.ProbeFailure{Probe: string(kind), Message: err.Error(), Time: p.r.clock.Now()}
	p.mu.Unlock()
}

// setNotReady takes a running pod out of rotation, saying why.
func (p *pod) setNotReady(reason string) {
	p.mu.Lock()
	p.mu.reason = reason
	p.mu.Unlock()
	p.setState(PodNotReady, "")
}

// restartUnhealthy restarts the process after its liveness or startup probe
// failed, as the kubelet kills such a container: out of rotation at once, SIGTERM
// to the process group, SIGKILL after the grace period (the probe's
// terminationGracePeriodSeconds, else Options.TerminationGrace). The supervisor
// (pod.supervise) sees the exit, reports it with why, and restarts the process
// after the crash back-off.
func (p *pod) restartUnhealthy(ctx context.Context, proc *process, s *probeSpec, err error) {
	why := fmt.Sprintf("%s probe failed: %v", s.kind, err)
	proc.setKilled(why)
	p.setNotReady(why)
	p.r.logger.Warn("pod: restarting unhealthy process", "pod", p.name, "revision", p.rev.key.String(), "reason", why)
	pid := proc.cmd.Process.Pid
	grace := s.grace
	if grace < 0 {
		grace = p.r.opts.TerminationGrace
	}
	if grace > 0 {
		_ = signalGroup(pid, sigTerm)
		t := p.r.clock.NewTimer(grace)
		select {
		case <-proc.exited:
		case <-t.C():
		case <-ctx.Done():
		}
		t.Stop()
	}
	// Once exited is closed the supervisor kills what is left of the group.
	select {
	case <-proc.exited:
	default:
		_ = signalGroup(pid, sigKill)
	}
}
