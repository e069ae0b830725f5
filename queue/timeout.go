package queue

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// timeoutBody is the body of a timed-out response (Knative's "request timeout").
const timeoutBody = "request timeout"

// timeoutWriter is the ResponseWriter handed to the reverse proxy: it enforces the
// three revision timeouts (knative.dev/serving/pkg/http/handler/timeout.go) on the request's own goroutine, without
// Knative's extra goroutine per request. Timers fire on their own goroutines; every
// write to the underlying writer, by the handler or by a timer, happens under mu, and
// the handler's header map is private until WriteHeader copies it, so a timer can
// answer 504 while the handler is still running. After a timeout writes fail with
// http.ErrHandlerTimeout and the request context is cancelled, which ends the
// upstream request.
//
// timeoutWriters are pooled. A writer goes back to the pool only if none of its
// timers fired or is firing (Stop reported it stopped), so a late timer never touches
// the next request.
type timeoutWriter struct {
	p      *Proxy
	header http.Header // the handler's header map until the response starts

	// Timers, created once per pooled writer and re-armed per request.
	total, first, idle Timer
	totalArmed         bool
	firstArmed         bool
	idleArmed          bool

	mu        sync.Mutex
	w         http.ResponseWriter
	cancel    context.CancelFunc
	code      int // status written, 0 if none
	wrote     bool
	lastWrite time.Time // by the proxy's clock; kept only with an idle timeout
	timedOut  bool
	hijacked  bool
	done      bool
}

func newTimeoutWriter(p *Proxy) *timeoutWriter {
	tw := &timeoutWriter{p: p, header: make(http.Header)}
	clk := p.clock
	tw.total = clk.AfterFunc(time.Hour, tw.onTotal)
	tw.total.Stop()
	tw.first = clk.AfterFunc(time.Hour, tw.onFirst)
	tw.first.Stop()
	tw.idle = clk.AfterFunc(time.Hour, tw.onIdle)
	tw.idle.Stop()
	return tw
}

func (tw *timeoutWriter) begin(w http.ResponseWriter, cancel context.CancelFunc) {
	tw.mu.Lock()
	tw.w, tw.cancel = w, cancel
	tw.code, tw.wrote, tw.timedOut, tw.hijacked, tw.done = 0, false, false, false, false
	if tw.p.opts.IdleTimeout > 0 {
		tw.lastWrite = tw.p.clock.Now()
	}
	tw.mu.Unlock()
	o := &tw.p.opts
	if tw.totalArmed = o.Timeout > 0; tw.totalArmed {
		tw.total.Reset(o.Timeout)
	}
	if tw.firstArmed = o.ResponseStartTimeout > 0; tw.firstArmed {
		tw.first.Reset(o.ResponseStartTimeout)
	}
	if tw.idleArmed = o.IdleTimeout > 0; tw.idleArmed {
		tw.idle.Reset(o.IdleTimeout)
	}
}

// finish ends the request: copies trailers set by the handler, disarms the timers
// and reports whether the writer may be reused.
func (tw *timeoutWriter) finish() (reusable bool) {
	tw.mu.Lock()
	tw.done = true
	if tw.wrote && !tw.timedOut && !tw.hijacked {
		tw.copyTrailersLocked()
	}
	tw.w, tw.cancel = nil, nil
	tw.mu.Unlock()
	reusable = true
	for _, t := range [...]struct {
		timer Timer
		armed bool
	}{{tw.total, tw.totalArmed}, {tw.first, tw.firstArmed}, {tw.idle, tw.idleArmed}} {
		if t.armed && !t.timer.Stop() {
			reusable = false // fired or firing: do not hand it to another request
		}
	}
	clear(tw.header)
	return reusable
}

func (tw *timeoutWriter) status() int {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut {
		return http.StatusGatewayTimeout
	}
	return tw.code
}

// timeoutLocked answers the request with a timeout, as Knative does: 504 with the
// body "request timeout", or, if the response has started, that text appended.
func (tw *timeoutWriter) timeoutLocked() {
	if tw.done || tw.timedOut || tw.hijacked {
		return
	}
	tw.timedOut = true
	if !tw.wrote {
		h := tw.w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		tw.w.WriteHeader(http.StatusGatewayTimeout)
		tw.code = http.StatusGatewayTimeout
		tw.wrote = true
	}
	_, _ = tw.w.Write([]byte(timeoutBody))
	tw.cancel()
}

func (tw *timeoutWriter) onTotal() {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.timeoutLocked()
}

func (tw *timeoutWriter) onFirst() {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if !tw.wrote {
		tw.timeoutLocked()
	}
}

func (tw *timeoutWriter) onIdle() {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.done || tw.timedOut || tw.hijacked {
		return
	}
	idle := tw.p.opts.IdleTimeout
	if since := tw.p.clock.Now().Sub(tw.lastWrite); since < idle {
		tw.idle.Reset(idle - since)
		return
	}
	tw.timeoutLocked()
}

// touchLocked records a write for the idle timeout; without one nobody reads
// lastWrite, so the clock is not read.
func (tw *timeoutWriter) touchLocked() {
	if tw.p.opts.IdleTimeout > 0 {
		tw.lastWrite = tw.p.clock.Now()
	}
}

// Header returns the handler's header map. It is private to the handler until the
// response starts, so a timer answering 504 never races with the handler.
func (tw *timeoutWriter) Header() http.Header { return tw.header }

func (tw *timeoutWriter) WriteHeader(code int) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut || tw.wrote || tw.hijacked || tw.done {
		return
	}
	h := tw.w.Header()
	for k, v := range tw.header {
		h[k] = v
	}
	tw.w.WriteHeader(code)
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// Informational: the final header comes later, from the handler's map again.
		clear(h)
		return
	}
	tw.code, tw.wrote = code, true
	tw.touchLocked()
}

func (tw *timeoutWriter) Write(b []byte) (int, error) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut || tw.done {
		return 0, http.ErrHandlerTimeout
	}
	if !tw.wrote {
		h := tw.w.Header()
		for k, v := range tw.header {
			h[k] = v
		}
		tw.code, tw.wrote = http.StatusOK, true
	}
	tw.touchLocked()
	return tw.w.Write(b)
}

// FlushError flushes the response (ResponseController uses it).
func (tw *timeoutWriter) FlushError() error {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut || tw.done {
		return http.ErrHandlerTimeout
	}
	if !tw.wrote {
		h := tw.w.Header()
		for k, v := range tw.header {
			h[k] = v
		}
		tw.code, tw.wrote = http.StatusOK, true
	}
	return http.NewResponseController(tw.w).Flush()
}

// Flush implements http.Flusher.
func (tw *timeoutWriter) Flush() { _ = tw.FlushError() }

// Hijack takes over the connection (websocket upgrades). The revision timeouts no
// longer apply to a hijacked connection; Run bounds it at shutdown.
func (tw *timeoutWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut || tw.done {
		return nil, nil, http.ErrHandlerTimeout
	}
	conn, brw, err := http.NewResponseController(tw.w).Hijack()
	if err != nil {
		return nil, nil, err
	}
	tw.hijacked = true
	tw.code = http.StatusSwitchingProtocols
	return tw.p.trackHijacked(conn), brw, nil
}

// Unwrap gives ResponseController access to the rest (deadlines, full duplex).
func (tw *timeoutWriter) Unwrap() http.ResponseWriter {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return tw.w
}

// copyTrailersLocked copies trailers the handler set after the response started
// (declared in Trailer, or with http.TrailerPrefix) to the real header map.
func (tw *timeoutWriter) copyTrailersLocked() {
	h := tw.w.Header()
	declared := h.Values("Trailer")
	for k, v := range tw.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			h[k] = v
			continue
		}
		for _, d := range declared {
			for _, name := range strings.Split(d, ",") {
				if http.CanonicalHeaderKey(strings.TrimSpace(name)) == k {
					h[k] = v
				}
			}
		}
	}
}

// trackHijacked registers a hijacked connection so that Run can close it when the
// shutdown bound passes; the returned conn deregisters itself on Close.
func (p *Proxy) trackHijacked(c net.Conn) net.Conn {
	p.hijacked.Lock()
	defer p.hijacked.Unlock()
	tc := &trackedConn{Conn: c, p: p}
	p.hijacked.conns[tc] = struct{}{}
	return tc
}

type trackedConn struct {
	net.Conn
	p    *Proxy
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.p.hijacked.Lock()
		delete(c.p.hijacked.conns, c)
		c.p.hijacked.Unlock()
	})
	return c.Conn.Close()
}

func (p *Proxy) closeHijacked() {
	p.hijacked.Lock()
	conns := make([]net.Conn, 0, len(p.hijacked.conns))
	for c := range p.hijacked.conns {
		conns = append(conns, c)
	}
	p.hijacked.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}
