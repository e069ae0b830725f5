package queue

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// Drain starts draining and waits for the quiet period (ProxyOptions.DrainQuietPeriod)
// to pass with no new request, as Knative's drainer does. From the first call on,
// health probes are answered 503 "shutting down", so the kubelet and the activator
// stop sending traffic; requests that still arrive are served normally and each one
// restarts the quiet period. Concurrent and repeated calls wait for the same quiet
// period. Drain returns nil once quiet, or ctx.Err(). It does not close anything: Run
// does that after Drain returns.
func (p *Proxy) Drain(ctx context.Context) error {
	if !p.draining.Swap(true) {
		now := int64(p.sinceStart())
		p.drainStart.Store(now)
		p.lastReq.Store(now)
		p.log.Info("queue: draining", "quietPeriod", p.opts.DrainQuietPeriod)
	}
	quiet := p.opts.DrainQuietPeriod
	t := p.clock.NewTimer(quiet)
	defer t.Stop()
	for {
		elapsed := p.sinceStart() - time.Duration(p.lastReq.Load())
		if elapsed >= quiet {
			return nil
		}
		t.Reset(quiet - elapsed)
		select {
		case <-t.C():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ResetDrain cancels draining: health probes pass again. Knative does this when the
// user container's preStop hook (/wait-for-drain) ran but the proxy was not stopped,
// i.e. the user container alone was restarted.
func (p *Proxy) ResetDrain() { p.draining.Store(false) }

// Draining reports whether Drain has been called (and not reset).
func (p *Proxy) Draining() bool { return p.draining.Load() }

// Listeners are the listeners Run serves. Serving is required.
type Listeners struct {
	// Serving carries the traffic (Knative's 8012/8013): HTTP/1.1 and cleartext
	// HTTP/2 (prior knowledge) on one port.
	Serving net.Listener
	// Admin, if not nil, serves /wait-for-drain (Knative's 8022), the user container's
	// preStop hook: it drains, then answers 200.
	Admin net.Listener
	// Metrics, if not nil, serves MetricsHandler (Knative's 9090).
	Metrics net.Listener
	// MetricsHandler is served on Metrics; nil means /metrics → StatsHandler, any
	// other path 404.
	MetricsHandler http.Handler
}

// Run serves the proxy until ctx ends, then shuts down without dropping a request:
// it drains (health probes fail, requests are still served until the quiet period
// passes without one), closes the listeners and idle connections and sends HTTP/2
// connections GOAWAY, waits for the requests still in flight, hijacked connections
// included (WaitDrained: long-lived streams are closed cleanly at
// ProxyOptions.DrainStreamDeadline from the start of the drain), up to
// ProxyOptions.ShutdownTimeout (then closes what is left), and returns nil. While
// serving, it computes a Stat every second (ReportStat). Run returns early with an
// error if a server fails. It returns only after all its goroutines have ended.
func (p *Proxy) Run(ctx context.Context, l Listeners) error {
	if l.Serving == nil {
		return errors.New("queue: Listeners.Serving is nil")
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()

	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	errLog := p.rp.ErrorLog
	type served struct {
		srv *http.Server
		ln  net.Listener
	}
	servers := []served{{&http.Server{
		Handler:           p,
		Protocols:         protocols,
		ReadHeaderTimeout: p.opts.ReadHeaderTimeout,
		IdleTimeout:       p.opts.ConnIdleTimeout,
		ErrorLog:          errLog,
	}, l.Serving}}
	if l.Admin != nil {
		mux := http.NewServeMux()
		mux.Handle("/wait-for-drain", p.waitForDrain(runCtx))
		servers = append(servers, served{&http.Server{
			Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute, ErrorLog: errLog,
		}, l.Admin})
	}
	if l.Metrics != nil {
		h := l.MetricsHandler
		if h == nil {
			mux := http.NewServeMux()
			mux.Handle("/metrics", p.StatsHandler())
			h = mux
		}
		servers = append(servers, served{&http.Server{
			Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute, ErrorLog: errLog,
		}, l.Metrics})
	}

	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		err1  error // the first server error
	)
	fail := func(err error) {
		errMu.Lock()
		if err1 == nil {
			err1 = err
		}
		errMu.Unlock()
		stop()
	}
	firstErr := func() error {
		errMu.Lock()
		defer errMu.Unlock()
		return err1
	}
	for _, s := range servers {
		wg.Go(func() {
			if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fail(err)
			}
		})
	}
	wg.Go(func() {
		t := p.clock.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C():
				p.ReportStat(p.clock.Now())
			}
		}
	})

	<-runCtx.Done()
	graceful := firstErr() == nil // only when ctx ended, not when a server failed
	if graceful {
		_ = p.Drain(context.Background())
	}
	p.log.Info("queue: closing listeners")
	shutCtx, cancel := context.WithTimeout(context.Background(), p.opts.ShutdownTimeout)
	defer cancel()
	// Shutdown closes the listeners, sends GOAWAY on every HTTP/2 connection (no new
	// stream; those open go on) and waits for the connections to go idle. Meanwhile
	// WaitDrained waits for the requests in flight and, at the stream deadline,
	// closes the streams still open, which lets Shutdown finish.
	var swg sync.WaitGroup
	for _, s := range servers {
		swg.Go(func() {
			if err := s.srv.Shutdown(shutCtx); err != nil {
				_ = s.srv.Close()
			}
		})
	}
	if graceful {
		_ = p.WaitDrained(shutCtx)
	}
	swg.Wait()
	// Shutdown does not wait for hijacked connections; the active count does.
	_ = p.WaitIdle(shutCtx)
	if p.active.Load() > 0 {
		p.log.Warn("queue: shutdown timeout: closing connections still in use", "requests", p.active.Load())
		p.closeHijacked()
		for _, s := range servers {
			_ = s.srv.Close()
		}
		_ = p.WaitIdle(context.Background())
	}
	wg.Wait()
	p.CloseIdleConnections()
	return firstErr()
}

// WaitIdle waits until no request is inside the proxy (InFlight is 0), without
// polling, and returns nil; or until ctx is done, and returns ctx's error. Any number
// of callers may wait at once. After Drain it waits for the requests still running:
// a pod can then be stopped without cutting them.
func (p *Proxy) WaitIdle(ctx context.Context) error {
	for p.active.Load() > 0 {
		select {
		case <-p.idleCh:
			// idleCh holds one signal per drop to zero: hand it on, so that
			// every other waiter wakes too and looks again (a stale signal
			// only makes a later waiter look once more).
			select {
			case p.idleCh <- struct{}{}:
			default:
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// waitForDrain is Knative's /wait-for-drain: drain, answer 200, and if the proxy is
// not being stopped within a second, reset the drain (the user container alone was
// restarted).
func (p *Proxy) waitForDrain(runCtx context.Context) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := p.Drain(r.Context()); err != nil {
			return // the caller went away
		}
		w.Header().Set("Content-Length", "0") // complete at once: the wait below is ours
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
		t := p.clock.NewTimer(time.Second)
		defer t.Stop()
		select {
		case <-runCtx.Done():
		case <-t.C():
			p.ResetDrain()
		}
	})
}
