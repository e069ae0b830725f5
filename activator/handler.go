package activator

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"time"

	"github.com/servekit/servekit/queue"
)

// HandlerOptions configure a Handler.
type HandlerOptions struct {
	// Throttler admits the requests; required.
	Throttler *Throttler
	// Resolver picks each request's revision; required. See KnativeHeaders for
	// Knative's header-based choice (opt-in).
	Resolver Resolver
	// PeerToken is the secret shared with the pods' queue proxies; it is sent in
	// queue.PeerTokenHeader with `K-Proxy-Request: activator` on every forwarded
	// request so the pod trusts that mark and does not count the request twice. Empty
	// sends no token (the pod then counts the request, as a direct one).
	PeerToken string
	// Transport carries requests to pods; nil means the Throttler's transport.
	Transport http.RoundTripper
	// H2CTransport carries requests to the pods of H2C revisions (Revision.H2C); it
	// must speak cleartext HTTP/2 with prior knowledge. Nil means the Throttler's
	// (Throttler.H2CTransport).
	H2CTransport http.RoundTripper
	// Logger receives proxy errors; nil discards them.
	Logger *slog.Logger
}

// Handler is the activator's http.Handler: it resolves the revision, waits in the
// Throttler for capacity (within the revision timeout) and proxies to the pod the
// Throttler picked. Build it once with NewHandler; it is safe for concurrent use.
//
// "Expect: 100-continue" goes through to the pod, which decides: the client is asked
// for the body (100 Continue, once) only when the pod asks for it, or when the
// transport stops waiting (NewTransport: 1 s).
//
// Answers of its own (plain text):
//   - `K-Network-Probe: activator` → 200 "activator" (Knative's autoscaler checks with
//     it that the activator is in the path); any other K-Network-Probe value → 400;
//   - a kubelet probe (User-Agent kube-probe/…, or K-Kubelet-Probe) for no revision
//     (the kubelet checks the activator at its own address) → 200 "ok"; a request
//     that names a revision is traffic whatever its User-Agent, forwarded without
//     K-Kubelet-Probe (a pod would trust it as its own kubelet's);
//   - unknown revision → 404 with the reason;
//   - queue full, or deadline shorter than the expected cold start → 503 with the reason;
//   - no pod within the revision timeout → 503 "activator request timeout" (an
//     upgrade request, a websocket, is bounded by it only until the pod's 101: the
//     upgraded connection then lives as long as the client and the app keep it, as
//     behind the queue proxy);
//   - the pod could not be reached (after failover) → 502; the revision timeout passing
//     before the pod answered → 504 "activator request timeout";
//   - the client's body could not be read (malformed chunked encoding) → 400, 413
//     past an http.MaxBytesReader limit; neither is logged as the pod's failure.
//
// A gRPC call (queue.IsGRPC) gets each 502, 503 and 504 as a trailers-only gRPC
// status instead, with a grpc-message naming the activator: DeadlineExceeded for the
// revision timeout passing before the pod answered or for a call whose grpc-timeout
// has passed, Unavailable otherwise (no pod in time, queue full, pod unreachable).
type Handler struct {
	t        *Throttler
	resolver Resolver
	proxy    *httputil.ReverseProxy // HTTP/1.1 to pods
	proxyH2C *httputil.ReverseProxy // h2c to the pods of H2C revisions
	log      *slog.Logger
	token    string
}

// NewHandler returns a Handler configured by o.
func NewHandler(o HandlerOptions) (*Handler, error) {
	if o.Throttler == nil {
		return nil, errors.New("activator: HandlerOptions.Throttler is required")
	}
	if o.Resolver == nil {
		return nil, errNoResolver
	}
	h := &Handler{t: o.Throttler, resolver: o.Resolver, log: o.Logger, token: o.PeerToken}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	tr := o.Transport
	if tr == nil {
		tr = o.Throttler.Transport()
	}
	h.proxy = &httputil.ReverseProxy{
		Rewrite:      h.rewrite,
		Transport:    tr,
		BufferPool:   queue.BufferPool{},
		ErrorHandler: h.proxyError,
		ErrorLog:     log.New(io.Discard, "", 0),
	}
	h2c := o.H2CTransport
	if h2c == nil {
		h2c = o.Throttler.H2CTransport()
	}
	p2 := *h.proxy
	p2.Transport = h2c
	h.proxyH2C = &p2
	return h, nil
}

// attempt is one try at sending a request to one pod, in one allocation: it is the
// proxied request's context (Value answers attemptKey with it and asks the parent
// for anything else, so deadlines and cancellation are the parent's), and it holds
// the client trace that records whether anything went upstream and the backing
// array of the header values rewrite sets.
type attempt struct {
	context.Context // the request's context with the revision timeout

	start  time.Time // the request's arrival at the activator
	dest   string
	body   *onceBody
	sent   atomic.Bool // request headers went upstream
	failed error       // set by proxyError when nothing went upstream: try another pod
	trace  httptrace.ClientTrace
	// vals backs the header values rewrite sets, each a one-element slice of it:
	// K-Original-Host, K-Proxy-Request, the peer token, X-Forwarded-For,
	// X-Forwarded-Host, X-Forwarded-Proto and an empty User-Agent.
	vals [7]string
}

type attemptKey struct{}

// Value returns the attempt itself for attemptKey, and the parent's value for any
// other key.
func (a *attempt) Value(key any) any {
	if _, ok := key.(attemptKey); ok {
		return a
	}
	return a.Context.Value(key)
}

func (a *attempt) wroteHeaders() { a.sent.Store(true) }

// endGRPCOnTimeout, deferred around the proxy of a gRPC call, ends the call with
// status DeadlineExceeded in its trailers when the revision timeout passed after
// the pod's response had started: the proxy then aborts the response
// (http.ErrAbortHandler), which would reset the stream and leave the client an
// INTERNAL error instead of the timeout. Any other panic goes on.
func (a *attempt) endGRPCOnTimeout(w http.ResponseWriter) {
	v := recover()
	if v == nil {
		return
	}
	if v != http.ErrAbortHandler || !errors.Is(a.Err(), context.DeadlineExceeded) {
		panic(v)
	}
	queue.SetGRPCTrailerStatus(w, queue.GRPCDeadlineExceeded, "activator request timeout")
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if v := r.Header.Get(queue.ProbeHeaderName); v != "" {
		if v == "activator" {
			writeText(w, http.StatusOK, "activator")
			return
		}
		writeText(w, http.StatusBadRequest, fmt.Sprintf("unexpected probe header value: %q", v))
		return
	}
	key, err := h.resolver.Resolve(r)
	if err != nil {
		if r.Header.Get(queue.KubeletProbeHeader) != "" || strings.HasPrefix(r.UserAgent(), "kube-probe/") {
			// The kubelet checks the activator itself, at its own address: a
			// request for a revision is traffic, whatever its User-Agent says.
			writeText(w, http.StatusOK, "ok")
			return
		}
		writeText(w, http.StatusNotFound, err.Error())
		return
	}
	rev, ok := h.t.Revision(key)
	if !ok {
		h.t.reject(key, ReasonUnknownRevision)
		writeText(w, http.StatusNotFound, fmt.Sprintf("%v %s", ErrUnknownRevision, key))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), rev.Timeout)
	defer cancel()
	pctx := ctx // the proxied request's context
	if isUpgrade(r) {
		// One rule wherever the activator sits, the queue proxy's (and Knative's):
		// the revision timeout bounds the wait for a pod and for its answer, not the
		// life of the upgraded connection (issue 13: a websocket was cut at
		// timeoutSeconds through the activator, not on the direct path). The timer
		// is stopped when the proxy hijacks the connection to relay the 101.
		uctx, ucancel := context.WithCancelCause(r.Context())
		defer ucancel(nil)
		timer := time.AfterFunc(rev.Timeout, func() { ucancel(context.DeadlineExceeded) })
		defer timer.Stop()
		w = upgradeWriter{ResponseWriter: w, timer: timer}
		pctx = uctx
	}
	if r.Header.Get("Expect") != "" {
		// "Expect: 100-continue" goes to the pod, which decides (the transport
		// waits for its 100 Continue before it sends the body, see NewTransport).
		w = continueWriter{w}
	}
	var body *onceBody
	if r.Body != nil && r.Body != http.NoBody {
		// The transport closes a request's body when it fails; the pod after a failover
		// must still be able to read it, and the handler must know whether any of it
		// was consumed.
		// Set on each attempt's copy of r, never on r: the server must still see its
		// own body, or after an "Expect: 100-continue" request the pod answered
		// without asking for the body, it would wait to read a body the client is
		// right not to send.
		body = &onceBody{rc: r.Body}
	}
	proxy := h.proxy
	if rev.H2C && !isUpgrade(r) {
		proxy = h.proxyH2C
	}
	grpc := queue.IsGRPC(r)
	err = h.t.TrySized(ctx, key, RequestHeadSize(r), func(dest string) (err error) {
		a := &attempt{Context: pctx, start: start, dest: dest, body: body}
		a.trace.WroteHeaders = a.wroteHeaders
		ar := r.WithContext(httptrace.WithClientTrace(a, &a.trace))
		if body != nil {
			ar.Body = body
		}
		if grpc {
			defer a.endGRPCOnTimeout(w)
		}
		proxy.ServeHTTP(w, ar)
		return a.failed
	})
	if err == nil {
		return
	}
	var de *DeadlineError
	switch {
	case errors.Is(err, ErrUnknownRevision):
		writeText(w, http.StatusNotFound, err.Error())
	case errors.Is(err, queue.ErrRequestQueueFull):
		writeError(w, r, start, http.StatusServiceUnavailable, err.Error())
	case errors.As(err, &de):
		writeError(w, r, start, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, ErrPodUnreachable):
		h.log.Warn("activator: no pod reachable", "revision", key.String(), "error", err.Error())
		if !queue.WriteGRPCUpstreamError(w, r, time.Since(start), "activator: no pod reachable") {
			writeText(w, http.StatusBadGateway, http.StatusText(http.StatusBadGateway))
		}
	case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil:
		// No pod within the revision timeout: Knative's 503, Unavailable for a
		// gRPC call (retryable: a pod may be there by the next try).
		writeError(w, r, start, http.StatusServiceUnavailable, "activator request timeout")
	default:
		// The client went away: nobody reads the answer.
		w.WriteHeader(http.StatusInternalServerError)
	}
}

// rewrite turns the client's request into the one the pod's queue proxy expects.
func (h *Handler) rewrite(pr *httputil.ProxyRequest) {
	a := pr.In.Context().Value(attemptKey{}).(*attempt)
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = a.dest
	pr.Out.Host = ""
	hd := pr.Out.Header
	// Every value is a one-element slice of a.vals, not a new slice per header; the
	// keys are canonical, so they are set in the map directly.
	v := &a.vals
	// Always the Host this request came with: a client-supplied K-Original-Host would
	// become the app's Host, and the pod trusts it because of the token.
	v[0] = pr.In.Host
	hd[queue.OriginalHostHeader] = v[0:1:1]
	v[1] = queue.ProxyHeaderValue
	hd[queue.ProxyHeaderName] = v[1:2:2]
	if h.token != "" {
		v[2] = h.token
		hd[queue.PeerTokenHeader] = v[2:3:3]
	} else {
		delete(hd, queue.PeerTokenHeader)
	}
	delete(hd, queue.KubeletProbeHeader)
	delete(hd, RevisionNamespaceHeader)
	delete(hd, RevisionNameHeader)
	// httputil.ProxyRequest.SetXForwarded, with the same values (the proxy removed
	// the client's X-Forwarded-* before Rewrite), and the empty User-Agent the proxy
	// would set after Rewrite when the client sent none.
	if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		v[3] = ip
		hd["X-Forwarded-For"] = v[3:4:4]
	} else {
		delete(hd, "X-Forwarded-For")
	}
	v[4] = pr.In.Host
	hd["X-Forwarded-Host"] = v[4:5:5]
	v[5] = "http"
	if pr.In.TLS != nil {
		v[5] = "https"
	}
	hd["X-Forwarded-Proto"] = v[5:6:6]
	if _, ok := hd["User-Agent"]; !ok {
		hd["User-Agent"] = v[6:7:7] // "": net/http then sends no User-Agent
	}
}

// proxyError is the ReverseProxy's error handler. Nothing was written to the client
// yet. When nothing went upstream either (the pod refused the connection), it answers
// nothing and tells Try to fail over.
func (h *Handler) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	a := r.Context().Value(attemptKey{}).(*attempt)
	var ctxErr error
	if r.Context().Err() != nil {
		ctxErr = context.Cause(r.Context()) // DeadlineExceeded for the revision timeout
	}
	if a.body != nil && a.body.failed.Load() {
		// The client's body could not be read (malformed chunked encoding, a client
		// gone mid-body): the client's fault, not the pod's. No failover, no warning
		// (issue 17).
		var mbe *http.MaxBytesError
		switch {
		case ctxErr != nil:
			w.WriteHeader(http.StatusInternalServerError) // the client went away
		case errors.As(err, &mbe):
			writeText(w, http.StatusRequestEntityTooLarge, "activator: request body too large")
		default:
			writeText(w, http.StatusBadRequest, "activator: malformed request body: "+err.Error())
		}
		return
	}
	if ctxErr == nil && !a.sent.Load() && (a.body == nil || !a.body.read.Load()) {
		a.failed = fmt.Errorf("%w: %s: %v", ErrPodUnreachable, a.dest, err)
		return
	}
	switch {
	case errors.Is(ctxErr, context.DeadlineExceeded):
		// The revision timeout passed before the pod answered: 504, or for a gRPC
		// call DeadlineExceeded, as the queue proxy answers it.
		writeError(w, r, a.start, http.StatusGatewayTimeout, "activator request timeout")
	case ctxErr != nil:
		w.WriteHeader(http.StatusInternalServerError) // the client went away
	default:
		h.log.Warn("activator: proxy error", "address", a.dest, "error", err.Error())
		if queue.WriteGRPCUpstreamError(w, r, time.Since(a.start), "activator: "+err.Error()) {
			return // a gRPC status, as Envoy answers
		}
		writeText(w, http.StatusBadGateway, http.StatusText(http.StatusBadGateway))
	}
}

// isUpgrade reports whether r asks for a protocol upgrade (a websocket): HTTP/2
// cannot carry it, so it goes to the pod over HTTP/1.1 even for an H2C revision.
func isUpgrade(r *http.Request) bool {
	_, ok := r.Header["Upgrade"]
	return ok
}

func writeText(w http.ResponseWriter, code int, msg string) {
	http.Error(w, msg, code)
}

// writeError answers a failure of the activator's own (nothing was written yet):
// code with msg as plain text, or for a gRPC call (queue.IsGRPC) a trailers-only
// gRPC status, as the queue proxy and the ingress answer one: DeadlineExceeded (4)
// for a 504 (the revision timeout passed before the pod answered) or when the call's
// grpc-timeout has passed since it arrived (start), else Unavailable (14), the
// status gRPC clients give a 503. The message names the hop ("activator: ...").
// Without it a gRPC client read the 504 as Unavailable, and saw an HTTP body it
// could not parse as the message.
func writeError(w http.ResponseWriter, r *http.Request, start time.Time, code int, msg string) {
	if !queue.IsGRPC(r) {
		writeText(w, code, msg)
		return
	}
	status := queue.GRPCUnavailable
	if d, ok := queue.GRPCTimeout(r.Header); code == http.StatusGatewayTimeout || ok && time.Since(start) >= d {
		status = queue.GRPCDeadlineExceeded
	}
	if !strings.HasPrefix(msg, "activator") {
		msg = "activator: " + msg
	}
	queue.WriteGRPCStatus(w, status, msg)
}

// continueWriter drops the pod's 100 Continue, which the proxy forwards: right
// after it the transport starts reading the client's body, and that first read makes
// the server send the client its own 100 Continue (passing the pod's on as well
// could send two). Other interim responses pass through.
type continueWriter struct{ http.ResponseWriter }

func (w continueWriter) WriteHeader(code int) {
	if code != http.StatusContinue {
		w.ResponseWriter.WriteHeader(code)
	}
}

// Unwrap keeps http.ResponseController (flush, hijack) working.
func (w continueWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// upgradeWriter stops the revision timeout of an upgrade request when the proxy
// hijacks the connection to relay the pod's 101: from then on the connection is the
// client's and the app's.
type upgradeWriter struct {
	http.ResponseWriter
	timer *time.Timer
}

func (w upgradeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.timer.Stop()
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap keeps http.ResponseController (flush) working.
func (w upgradeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// onceBody wraps a request body so that closing it (the transport does on failure)
// leaves it readable for the next attempt, and records whether it was read.
type onceBody struct {
	rc     io.ReadCloser
	read   atomic.Bool
	failed atomic.Bool // a Read returned an error other than io.EOF: the client's fault
}

func (b *onceBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.read.Store(true)
	}
	if err != nil && err != io.EOF {
		b.failed.Store(true)
	}
	return n, err
}

func (b *onceBody) Close() error { return nil }
