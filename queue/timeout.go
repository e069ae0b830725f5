package queue

import (
	"bufio"
	"context"
	"io"
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

	start     time.Time // the request's arrival, by the proxy's clock
	grpc      bool      // a gRPC call: the drain's stream deadline ends it with Unavailable
	http2     bool      // the request came over HTTP/2
	websocket bool      // Upgrade: websocket
	reqBody   io.Closer // an HTTP/2 request's body, closed by endStream

	mu        sync.Mutex
	w         http.ResponseWriter
	cancel    context.CancelFunc
	code      int // status written, 0 if none
	wrote     bool
	lastWrite time.Time // by the proxy's clock; kept only with an idle timeout
	timedOut  bool
	hijacked  bool
	done      bool
	ended     bool   // ended by the drain's stream deadline (endStream)
	stream    bool   // in Proxy.streams
	seq       uint64 // counts the requests this pooled writer served
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

func (tw *timeoutWriter) begin(w http.ResponseWriter, r *http.Request, cancel context.CancelFunc, start time.Time) {
	tw.start = start
	tw.grpc = IsGRPC(r)
	tw.http2 = r.ProtoMajor == 2
	tw.websocket = strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
	tw.reqBody = nil
	if tw.http2 && r.Body != nil {
		tw.reqBody = r.Body
	}
	tw.mu.Lock()
	tw.w, tw.cancel = w, cancel
	tw.code, tw.wrote, tw.timedOut, tw.hijacked, tw.done = 0, false, false, false, false
	tw.ended, tw.stream = false, false
	tw.seq++
	if tw.p.opts.IdleTimeout > 0 {
		tw.lastWrite = tw.p.clock.Now()
	}
	if tw.grpc {
		tw.p.addStreamLocked(tw) // a gRPC call is a stream from its start
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
	if tw.wrote && !tw.timedOut && !tw.hijacked && !tw.ended {
		tw.copyTrailersLocked()
	}
	tw.w, tw.cancel, tw.reqBody = nil, nil, nil
	stream := tw.stream
	tw.mu.Unlock()
	if stream {
		tw.p.removeStream(tw)
	}
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

// endGRPCLocked ends a gRPC call with status code: trailers-only when nothing was
// written yet, else in the trailers of the response under way.
func (tw *timeoutWriter) endGRPCLocked(code int, msg string) {
	if !tw.wrote {
		WriteGRPCStatus(tw.w, code, msg)
		tw.code, tw.wrote = http.StatusOK, true
		return
	}
	SetGRPCTrailerStatus(tw.w, code, msg)
}

// timeoutLocked answers the request with a timeout, as Knative does: 504 with the
// body "request timeout", or, if the response has started, that text appended. A
// gRPC call gets status DeadlineExceeded instead (trailers-only, or trailers after
// what was sent), as the activator answers it: text in a gRPC body would be a
// malformed message, and a 504 reads as Unavailable.
func (tw *timeoutWriter) timeoutLocked() {
	if tw.done || tw.timedOut || tw.hijacked || tw.ended {
		return
	}
	tw.timedOut = true
	if tw.grpc {
		tw.endGRPCLocked(GRPCDeadlineExceeded, "queue: "+timeoutBody)
		tw.cancel()
		if tw.reqBody != nil {
			_ = tw.reqBody.Close() // as endStream: ends a bidirectional stream's upload
		}
		return
	}
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
	if tw.done || tw.timedOut || tw.hijacked || tw.ended {
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
	if tw.timedOut || tw.wrote || tw.hijacked || tw.done || tw.ended {
		return
	}
	tw.copyHeaderLocked()
	tw.w.WriteHeader(code)
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// Informational: the final header comes later, from the handler's map again.
		clear(tw.w.Header())
		return
	}
	tw.code, tw.wrote = code, true
	tw.touchLocked()
}

func (tw *timeoutWriter) Write(b []byte) (int, error) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut || tw.done || tw.ended {
		return 0, http.ErrHandlerTimeout
	}
	if !tw.wrote {
		tw.copyHeaderLocked()
		tw.code, tw.wrote = http.StatusOK, true
	}
	tw.touchLocked()
	return tw.w.Write(b)
}

// FlushError flushes the response (ResponseController uses it).
func (tw *timeoutWriter) FlushError() error {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut || tw.done || tw.ended {
		return http.ErrHandlerTimeout
	}
	if !tw.wrote {
		tw.copyHeaderLocked()
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
	if tw.timedOut || tw.done || tw.ended {
		return nil, nil, http.ErrHandlerTimeout
	}
	conn, brw, err := http.NewResponseController(tw.w).Hijack()
	if err != nil {
		return nil, nil, err
	}
	tw.hijacked = true
	tw.code = http.StatusSwitchingProtocols
	return tw.p.trackHijacked(conn, tw.cancel, tw.websocket), brw, nil
}

// Unwrap gives ResponseController access to the rest (deadlines, full duplex).
func (tw *timeoutWriter) Unwrap() http.ResponseWriter {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return tw.w
}

// copyHeaderLocked copies the handler's header map to the real one as the response
// starts. An event stream (text/event-stream) becomes a stream the drain's deadline
// ends.
func (tw *timeoutWriter) copyHeaderLocked() {
	h := tw.w.Header()
	for k, v := range tw.header {
		h[k] = v
	}
	if !tw.stream && strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") {
		tw.p.addStreamLocked(tw)
	}
}

// endStream ends the request at the drain's stream deadline, unless it is over or
// seq says the writer serves another request by now: a gRPC call with status
// Unavailable (trailers-only when nothing was answered yet, else trailers after
// what was sent), an event stream by ending its response where it is. The request
// context is cancelled, which ends the app's side; the handler's writes fail from
// now on and its abort is not a panic (see serve). It reports whether it ended a
// request and whether that came over HTTP/2.
func (tw *timeoutWriter) endStream(seq uint64) (ended, http2 bool) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.seq != seq || tw.done || tw.timedOut || tw.hijacked || tw.ended {
		return false, false
	}
	tw.ended = true
	if tw.grpc {
		tw.endGRPCLocked(GRPCUnavailable, "queue: the pod is shutting down (drain stream deadline passed)")
	}
	tw.cancel()
	if tw.reqBody != nil {
		// The transport sends an HTTP/2 request's body to the app until the client
		// ends it, blind to the cancelled context: a bidirectional gRPC stream would
		// go on. Closing the body (safe from another goroutine on HTTP/2) ends it.
		_ = tw.reqBody.Close()
	}
	return true, tw.http2
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

// trackHijacked registers a hijacked connection so that the drain's stream deadline
// and Run's shutdown bound can close it; the returned conn deregisters itself on
// Close. cancel ends the request (which closes the app's side); websocket says the
// connection carries websocket frames.
func (p *Proxy) trackHijacked(c net.Conn, cancel context.CancelFunc, websocket bool) net.Conn {
	p.hijacked.Lock()
	defer p.hijacked.Unlock()
	tc := &trackedConn{Conn: c, p: p, cancel: cancel, websocket: websocket}
	p.hijacked.conns[tc] = struct{}{}
	return tc
}

func (p *Proxy) closeHijacked() {
	for _, c := range p.hijackedConns() {
		_ = c.Close()
	}
}

func (p *Proxy) hijackedConns() []*trackedConn {
	p.hijacked.Lock()
	defer p.hijacked.Unlock()
	conns := make([]*trackedConn, 0, len(p.hijacked.conns))
	for c := range p.hijacked.conns {
		conns = append(conns, c)
	}
	return conns
}
