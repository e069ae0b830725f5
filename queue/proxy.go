package queue

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/servekit/servekit/autoscaler/metrics"
)

// ProxyOptions configures a [Proxy]. Only Target is required.
type ProxyOptions struct {
	// Target is the user container's address, host:port (Knative: 127.0.0.1:$USER_PORT).
	// Required.
	Target string

	// ContainerConcurrency is the most requests the user container handles at once
	// (Knative's containerConcurrency). Zero means unlimited: no breaker, no queue.
	ContainerConcurrency int
	// QueueDepth is how many requests may wait for the container in addition to
	// ContainerConcurrency; beyond that the proxy answers 503 at once. Zero means
	// Knative's 10 × ContainerConcurrency. Ignored when ContainerConcurrency is 0.
	QueueDepth int

	// Timeout is the total time a request may take, waiting in the breaker included
	// (REVISION_TIMEOUT_SECONDS); past it the proxy answers 504 "request timeout" (or
	// appends that text to a response already started). Zero means no limit (Knative
	// treats 0 as "time out at once", a value its webhook never allows).
	Timeout time.Duration
	// ResponseStartTimeout is how long the app may take to start its response
	// (REVISION_RESPONSE_START_TIMEOUT_SECONDS); zero means no limit.
	ResponseStartTimeout time.Duration
	// IdleTimeout is the longest gap allowed between writes of a response
	// (REVISION_IDLE_TIMEOUT_SECONDS); zero means no limit.
	IdleTimeout time.Duration

	// ReadinessProbes are run to answer health probes (K-Network-Probe: queue) and
	// Ready; all must pass. Nil means the user container is always ready.
	ReadinessProbes []Probe
	// ReadinessHTTP2AutoDetection makes HTTP readiness checks try cleartext HTTP/2
	// first and fall back to HTTP/1.1 (ENABLE_HTTP2_AUTO_DETECTION). False means
	// HTTP/1.1 only.
	ReadinessHTTP2AutoDetection bool

	// PeerToken is the secret shared with the proxy's trusted peers (the activator,
	// the kubelet). Knative's internal headers (K-Proxy-Request, K-Original-Host,
	// K-Kubelet-Probe and the kube-probe User-Agent) take effect only on requests whose
	// Servekit-Peer-Token header equals it. Empty means no request is trusted.
	PeerToken string
	// TrustKnativeHeaders makes every request trusted, as Knative's queue-proxy does:
	// only for a drop-in deployment next to Knative's own activator, where clients
	// cannot reach the proxy directly.
	TrustKnativeHeaders bool

	// DrainQuietPeriod is how long Drain waits without new requests before it
	// returns (Knative's 30 s). Zero means 30 s.
	DrainQuietPeriod time.Duration
	// ShutdownTimeout bounds how long Run waits, once its listeners are closed, for
	// requests still in flight, hijacked (websocket) connections included. Zero means
	// Timeout + 60 s, or 10 minutes without a Timeout.
	ShutdownTimeout time.Duration
	// DrainStreamDeadline is how long long-lived streams may stay open once a drain
	// starts (the first Drain call): websockets and other upgraded connections,
	// gRPC calls and server-sent events (text/event-stream responses). Past it
	// WaitDrained (and Run) closes them cleanly — a websocket with a close frame
	// 1001 "going away", a gRPC call with status Unavailable, an event stream by
	// ending its response — and counts them (DrainReporter). Other requests are
	// not cut by it. Zero means Timeout (the revision timeout, as Knative's
	// termination grace), or ShutdownTimeout without a Timeout
	// (SERVEKIT_DRAIN_STREAM_DEADLINE).
	DrainStreamDeadline time.Duration
	// ReadHeaderTimeout bounds reading a request's header on the serving listener.
	// Zero means one minute, as in Knative.
	ReadHeaderTimeout time.Duration
	// ConnIdleTimeout closes keep-alive connections idle that long. Zero means 5 minutes.
	ConnIdleTimeout time.Duration

	// PodName is reported in every Stat (Knative: SERVING_POD).
	PodName string
	// Logger receives errors and drain progress; nil discards them.
	Logger *slog.Logger
	// Reporter is told about every request; nil reports nothing.
	Reporter Reporter
	// Transport sends requests to the user container. Nil means a transport tuned as
	// Knative's: no compression, ContainerConcurrency idle connections (1000 when
	// unlimited), HTTP/1.1 for HTTP/1 requests and cleartext HTTP/2 for HTTP/2 ones.
	Transport http.RoundTripper
	// Clock is the proxy's time source: request timing and stats, the revision
	// timeouts, drain, the stats ticker of Run and aggressive readiness probing all
	// read it. Nil means RealClock. (Network deadlines — ReadHeaderTimeout, probe
	// attempt timeouts, dial timeouts — stay on the real clock, like the kernel.)
	Clock Clock
}

// Reporter receives one report per request that reached the proxying path (health
// probes excluded). The ocmetrics package has an OpenCensus implementation.
// Implementations must be safe for concurrent use and fast: they run on the request
// path. A Reporter that also implements DrainReporter is told about the streams
// each drain closes.
type Reporter interface {
	ReportRequest(RequestReport)
}

// DrainReporter is implemented by a Reporter that wants to know how many streams
// the drain's stream deadline closed (ProxyOptions.DrainStreamDeadline).
type DrainReporter interface {
	// ReportDrain is called once per drain whose deadline passed with streams
	// still open.
	ReportDrain(DrainReport)
}

// DrainReport counts the streams a drain closed at its stream deadline, by kind.
type DrainReport struct {
	// Websocket counts upgraded connections (websockets and other protocols): each
	// got a close frame 1001 "going away" (websockets) and was closed.
	Websocket int
	// HTTP2 counts HTTP/2 streams (gRPC calls, event streams over HTTP/2): a gRPC
	// call ended with status Unavailable, another stream with its response ended.
	HTTP2 int
	// HTTP1 counts HTTP/1.1 streamed responses (event streams), ended cleanly.
	HTTP1 int
}

// Total returns the number of streams closed.
func (d DrainReport) Total() int { return d.Websocket + d.HTTP2 + d.HTTP1 }

// RequestReport describes one finished request.
type RequestReport struct {
	// Code is the status sent to the client (504 after a timeout, 503 when the
	// breaker refused it, 0 when nothing was written, e.g. the client went away).
	Code int
	// Latency is the time from arrival to the end of the response.
	Latency time.Duration
	// BreakerWait is the time spent waiting for a slot in the breaker.
	BreakerWait time.Duration
	// QueueDepth is the number of requests in the breaker, waiting or running, when
	// this one arrived (itself excluded); 0 without a breaker.
	QueueDepth int
	// Proxied says the request came through the (trusted) activator.
	Proxied bool
}

// Proxy is the queue proxy: an http.Handler that sits in front of one user
// container, as Knative's queue-proxy sidecar does. It answers health probes,
// admits requests through a Breaker, enforces the revision timeouts, counts requests
// for the autoscaler and forwards everything else, websockets and HTTP/2 included,
// with one httputil.ReverseProxy built once. Run serves it on listeners and drains on
// shutdown; an embedder may instead mount it on its own server and call Drain.
type Proxy struct {
	opts      ProxyOptions
	token     []byte
	breaker   *Breaker // nil when ContainerConcurrency is 0
	rp        *httputil.ReverseProxy
	ready     *readiness
	log       *slog.Logger
	clock     Clock
	start     time.Time // construction time, by clock: ProcessUptime and drain timing count from it
	reporter  Reporter
	closeIdle func()

	stats    Stats
	lastStat atomic.Pointer[metrics.Stat]
	prevRep  atomic.Int64 // UnixNano of the previous ReportStat, for per-second rates

	draining   atomic.Bool
	lastReq    atomic.Int64 // nanoseconds since start of the latest request while draining
	drainStart atomic.Int64 // nanoseconds since start of the first Drain call (valid while draining)

	active   atomic.Int64  // requests inside ServeHTTP
	idleCh   chan struct{} // receives (non-blocking) when active drops to 0
	hijacked struct {
		sync.Mutex
		conns map[*trackedConn]struct{}
	}
	// streams are the requests, not hijacked, that the drain's stream deadline
	// ends (gRPC calls, event streams), each with its writer's seq when it was
	// added: a writer back in the pool and reused is not the same request.
	streams struct {
		sync.Mutex
		m map[*timeoutWriter]uint64
	}

	reqPool sync.Pool // *timeoutWriter
}

// NewProxy returns a Proxy configured by opts, or an error naming the bad option.
func NewProxy(opts ProxyOptions) (*Proxy, error) {
	if _, port, err := net.SplitHostPort(opts.Target); err != nil || port == "" {
		return nil, fmt.Errorf("queue: ProxyOptions.Target %q is not host:port", opts.Target)
	}
	switch {
	case opts.ContainerConcurrency < 0 || opts.ContainerConcurrency > MaxBreakerCapacity:
		return nil, fmt.Errorf("queue: ProxyOptions.ContainerConcurrency %d is not in [0, %d]", opts.ContainerConcurrency, MaxBreakerCapacity)
	case opts.QueueDepth < 0:
		return nil, fmt.Errorf("queue: ProxyOptions.QueueDepth %d is negative", opts.QueueDepth)
	case opts.Timeout < 0:
		return nil, fmt.Errorf("queue: ProxyOptions.Timeout %v is negative", opts.Timeout)
	case opts.ResponseStartTimeout < 0:
		return nil, fmt.Errorf("queue: ProxyOptions.ResponseStartTimeout %v is negative", opts.ResponseStartTimeout)
	case opts.IdleTimeout < 0:
		return nil, fmt.Errorf("queue: ProxyOptions.IdleTimeout %v is negative", opts.IdleTimeout)
	case opts.DrainQuietPeriod < 0:
		return nil, fmt.Errorf("queue: ProxyOptions.DrainQuietPeriod %v is negative", opts.DrainQuietPeriod)
	case opts.ShutdownTimeout < 0:
		return nil, fmt.Errorf("queue: ProxyOptions.ShutdownTimeout %v is negative", opts.ShutdownTimeout)
	case opts.DrainStreamDeadline < 0:
		return nil, fmt.Errorf("queue: ProxyOptions.DrainStreamDeadline %v is negative", opts.DrainStreamDeadline)
	}
	for i, pr := range opts.ReadinessProbes {
		n := 0
		for _, set := range [...]bool{pr.TCPSocket != nil, pr.HTTPGet != nil, pr.GRPC != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			return nil, fmt.Errorf("queue: ProxyOptions.ReadinessProbes[%d]: want exactly one of TCPSocket, HTTPGet and GRPC, got %d", i, n)
		}
	}
	if opts.DrainQuietPeriod == 0 {
		opts.DrainQuietPeriod = 30 * time.Second
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 10 * time.Minute
		if opts.Timeout > 0 {
			opts.ShutdownTimeout = opts.Timeout + time.Minute
		}
	}
	if opts.DrainStreamDeadline == 0 {
		opts.DrainStreamDeadline = opts.Timeout
		if opts.Timeout == 0 {
			opts.DrainStreamDeadline = opts.ShutdownTimeout
		}
	}
	if opts.ReadHeaderTimeout == 0 {
		opts.ReadHeaderTimeout = time.Minute
	}
	if opts.ConnIdleTimeout == 0 {
		opts.ConnIdleTimeout = 5 * time.Minute
	}
	p := &Proxy{
		opts:     opts,
		log:      opts.Logger,
		clock:    opts.Clock,
		reporter: opts.Reporter,
		idleCh:   make(chan struct{}, 1),
	}
	if p.clock == nil {
		p.clock = RealClock{}
	}
	p.ready = newReadiness(opts.ReadinessProbes, opts.ReadinessHTTP2AutoDetection, p.clock)
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if opts.PeerToken != "" {
		p.token = []byte(opts.PeerToken)
	}
	if cc := opts.ContainerConcurrency; cc > 0 {
		depth := opts.QueueDepth
		if depth == 0 {
			depth = 10 * cc
		}
		p.breaker = NewBreaker(BreakerParams{QueueDepth: depth, MaxConcurrency: cc, InitialCapacity: cc})
	}
	p.start = p.clock.Now()
	p.stats.Report(p.start)
	p.prevRep.Store(p.start.UnixNano())
	p.lastStat.Store(&metrics.Stat{PodName: opts.PodName})
	p.hijacked.conns = make(map[*trackedConn]struct{})
	p.streams.m = make(map[*timeoutWriter]uint64)

	transport := opts.Transport
	if transport == nil {
		t := newTransport(opts.ContainerConcurrency)
		transport, p.closeIdle = t, t.closeIdle
	} else if c, ok := transport.(interface{ CloseIdleConnections() }); ok {
		p.closeIdle = c.CloseIdleConnections
	}
	target := opts.Target
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = target
			pr.Out.Header.Del("Knative-Serving-Revision")
			pr.Out.Header.Del("Knative-Serving-Namespace")
			forwarded(pr)
		},
		Transport:    transport,
		BufferPool:   BufferPool{},
		ErrorHandler: p.proxyError,
		ErrorLog:     slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
	p.reqPool.New = func() any { return newTimeoutWriter(p) }
	return p, nil
}

// forwarded keeps Knative's (Director-era) forwarding headers: X-Forwarded-For gets
// the client appended, X-Forwarded-Host/-Proto and Forwarded pass through, and when
// there is no Forwarded header but some X-Forwarded-* one, an RFC 7239 Forwarded
// header is synthesised from them (Knative's forwarded shim).
func forwarded(pr *httputil.ProxyRequest) {
	in, out := pr.In.Header, pr.Out.Header
	for _, k := range [...]string{"X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded"} {
		if v, ok := in[k]; ok {
			out[k] = v
		}
	}
	xff := in["X-Forwarded-For"]
	if _, ok := in["Forwarded"]; !ok && (len(xff) > 0 || len(in["X-Forwarded-Host"]) > 0 || len(in["X-Forwarded-Proto"]) > 0) {
		out.Set("Forwarded", forwardedFrom(xff, in.Get("X-Forwarded-Host"), in.Get("X-Forwarded-Proto")))
	}
	if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		if len(xff) > 0 {
			ip = strings.Join(xff, ", ") + ", " + ip
		}
		out.Set("X-Forwarded-For", ip)
	} else if len(xff) > 0 {
		out["X-Forwarded-For"] = xff
	}
}

func forwardedFrom(xff []string, host, proto string) string {
	var elems []string
	for _, v := range xff {
		for _, hop := range strings.Split(v, ",") {
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue
			}
			if strings.Contains(hop, ":") { // IPv6: quoted and bracketed
				hop = `"[` + hop + `]"`
			}
			elems = append(elems, "for="+hop)
		}
	}
	first := ""
	if len(elems) > 0 {
		first = elems[0]
	}
	var extra []string
	if host != "" {
		extra = append(extra, "host="+host)
	}
	if proto != "" {
		extra = append(extra, "proto="+proto)
	}
	if len(extra) > 0 {
		if first != "" {
			first += ";"
		}
		first += strings.Join(extra, ";")
	}
	if len(elems) == 0 {
		return first
	}
	elems[0] = first
	return strings.Join(elems, ", ")
}

// transport sends HTTP/1 requests over HTTP/1.1 and HTTP/2 requests over cleartext
// HTTP/2 (prior knowledge), as Knative's queue-proxy does.
type transport struct {
	h1, h2 *http.Transport
}

func newTransport(cc int) *transport {
	idle := cc
	if idle == 0 {
		idle = 1000
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	h1 := &http.Transport{
		DialContext:         dialer.DialContext,
		DisableCompression:  true,
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     90 * time.Second,
		// "Expect: 100-continue" goes to the app, which decides: the body is read
		// from the client (who is sent 100 Continue then) only once the app asks for
		// it, or after a second without an answer.
		ExpectContinueTimeout: time.Second,
	}
	h2 := h1.Clone()
	h2.Protocols = new(http.Protocols)
	h2.Protocols.SetUnencryptedHTTP2(true)
	// One dial at a time: concurrent requests that find no connection wait for it
	// instead of each dialling one (HTTP/2 streams share a connection; net/http
	// still opens another once the app's stream limit is reached).
	h2.MaxConnsPerHost = 1
	return &transport{h1: h1, h2: h2}
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.ProtoMajor == 2 {
		return t.h2.RoundTrip(r)
	}
	return t.h1.RoundTrip(r)
}

func (t *transport) closeIdle() {
	t.h1.CloseIdleConnections()
	t.h2.CloseIdleConnections()
}

// CloseIdleConnections closes the idle connections to the user container. Run does
// it when it returns; an embedder that only uses ServeHTTP calls it when done.
func (p *Proxy) CloseIdleConnections() {
	if p.closeIdle != nil {
		p.closeIdle()
	}
}

// proxyError answers a failed upstream request: nothing when the request was
// cancelled (client gone, or a timeout already answered), 502 with the error text
// otherwise (e.g. the user container does not listen), or for a gRPC call a gRPC
// status (WriteGRPCUpstreamError: DeadlineExceeded when its grpc-timeout has passed,
// e.g. the app's copy of the deadline reset the stream, Unavailable otherwise).
func (p *Proxy) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) || r.Context().Err() != nil {
		return
	}
	p.log.Warn("queue: proxying to the user container failed", "target", p.opts.Target, "error", err)
	if tw, ok := w.(*timeoutWriter); ok && WriteGRPCUpstreamError(w, r, p.clock.Now().Sub(tw.start), "queue: "+err.Error()) {
		return
	}
	http.Error(w, err.Error(), http.StatusBadGateway)
}

// trusted reports whether r comes from a trusted peer (see ProxyOptions.PeerToken).
func (p *Proxy) trusted(r *http.Request) bool {
	if p.opts.TrustKnativeHeaders {
		return true
	}
	if p.token == nil {
		return false
	}
	v := r.Header[PeerTokenHeader]
	return len(v) == 1 && subtle.ConstantTimeCompare([]byte(v[0]), p.token) == 1
}

// isHealthUA reports Knative's health-check user agents (knative.dev/networking/pkg/http/header/header.go).
func isHealthUA(ua string) bool {
	return strings.HasPrefix(ua, "kube-probe/") ||
		strings.HasPrefix(ua, "Knative-Activator-Probe") ||
		strings.HasPrefix(ua, "Knative-Autoscaling-Probe")
}

// ServeHTTP answers probes and proxies every other request to the user container.
//
// Trust (see the package documentation): the Servekit-Peer-Token header is always
// removed; on untrusted requests K-Proxy-Request, K-Original-Host and K-Kubelet-Probe
// are removed too and a kube-probe User-Agent means nothing.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := r.Header
	trusted := p.trusted(r)
	delete(h, PeerTokenHeader)
	if !trusted {
		delete(h, ProxyHeaderName)
		delete(h, OriginalHostHeader)
		delete(h, KubeletProbeHeader)
	}

	// Probes of the proxy itself never reach the user container.
	if v := h[ProbeHeaderName]; len(v) > 0 {
		switch v[0] {
		case ProbeHeaderValue:
			p.serveHealth(w, r)
			return
		case "probe":
			p.serveNetworkProbe(w, r)
			return
		}
	}
	if trusted && isHealthUA(r.UserAgent()) && h.Get(ProxyHeaderName) != ProxyHeaderValue {
		// A peer's health check without K-Network-Probe: queue (Knative: 400). A
		// request the activator forwards (K-Proxy-Request: activator) is a client's,
		// whatever its User-Agent: it goes to the app.
		if p.draining.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		http.Error(w, fmt.Sprintf("unexpected probe header value: %s", h.Get(ProbeHeaderName)), http.StatusBadRequest)
		return
	}

	p.active.Add(1)
	defer p.requestDone()
	if p.draining.Load() {
		p.lastReq.Store(int64(p.sinceStart()))
	}

	kubelet := false
	proxied := false
	if trusted {
		kubelet = len(h[KubeletProbeHeader]) > 0
		proxied = h.Get(ProxyHeaderName) == ProxyHeaderValue
		if v := h[OriginalHostHeader]; len(v) > 0 {
			if v[0] != "" {
				r.Host = v[0]
			}
			delete(h, OriginalHostHeader)
		}
	}
	p.serve(w, r, kubelet, proxied)
}

// sinceStart returns the time since the proxy was made, by its clock.
func (p *Proxy) sinceStart() time.Duration { return p.clock.Now().Sub(p.start) }

func (p *Proxy) requestDone() {
	if p.active.Add(-1) == 0 {
		select {
		case p.idleCh <- struct{}{}:
		default:
		}
	}
}

// serve runs one request through the timeouts, stats and breaker to the user container.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, kubelet, proxied bool) {
	start := p.clock.Now()
	tw := p.reqPool.Get().(*timeoutWriter)
	clientCtx := r.Context()
	ctx, cancel := context.WithCancel(clientCtx)
	r = r.WithContext(ctx)
	tw.begin(w, r, cancel, start)
	defer func() {
		reusable := tw.finish()
		cancel()
		if v := recover(); v != nil && !(v == http.ErrAbortHandler && (tw.timedOut || tw.ended)) {
			panic(v)
		}
		if reusable {
			p.reqPool.Put(tw)
		}
	}()

	if kubelet {
		// A trusted kubelet probe goes straight to the app: no breaker, no stats.
		p.rp.ServeHTTP(tw, r)
		return
	}

	p.stats.In(start, proxied)
	var wait time.Duration
	depth := 0
	if p.breaker == nil {
		p.rp.ServeHTTP(tw, r)
	} else {
		depth = p.breaker.InFlight()
		err := p.breaker.Maybe(ctx, func() {
			wait = p.clock.Now().Sub(start)
			p.rp.ServeHTTP(tw, r)
		})
		if err != nil {
			wait = p.clock.Now().Sub(start)
			switch {
			case errors.Is(err, ErrRequestQueueFull), errors.Is(err, context.DeadlineExceeded):
				http.Error(tw, err.Error(), http.StatusServiceUnavailable)
			case clientCtx.Err() != nil:
				// The client went away while queued: nobody to answer (Knative
				// writes a 500 nobody reads).
			default:
				tw.WriteHeader(http.StatusInternalServerError)
			}
		}
	}
	end := p.clock.Now()
	p.stats.Out(end, proxied)
	if p.reporter != nil {
		p.reporter.ReportRequest(RequestReport{
			Code:        tw.status(),
			Latency:     end.Sub(start),
			BreakerWait: wait,
			QueueDepth:  depth,
			Proxied:     proxied,
		})
	}
}

// serveHealth answers K-Network-Probe: queue: 200 "queue" when the user container
// is ready, 503 when it is not, 503 "shutting down" while draining.
func (p *Proxy) serveHealth(w http.ResponseWriter, r *http.Request) {
	if p.draining.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	if !p.ready.check(r.Context()) {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(ProbeHeaderValue))
}

// serveNetworkProbe answers the ingress prober (K-Network-Probe: probe) by echoing
// K-Network-Hash.
func (p *Proxy) serveNetworkProbe(w http.ResponseWriter, r *http.Request) {
	if p.draining.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	hash := r.Header.Get(NetworkHashHeader)
	if hash == "" {
		http.Error(w, `a probe request must contain a non-empty "K-Network-Hash" header`, http.StatusBadRequest)
		return
	}
	w.Header().Set(NetworkHashHeader, hash)
	w.WriteHeader(http.StatusOK)
}

// Ready reports whether the proxy would answer a health probe with 200: it is not
// draining and the readiness probes pass (a run already in progress is shared).
func (p *Proxy) Ready(ctx context.Context) bool {
	return !p.draining.Load() && p.ready.check(ctx)
}

// InFlight returns the number of requests inside the proxy: waiting in the breaker
// or being proxied, hijacked (websocket) connections included, health probes
// excluded. Unlike Breaker().InFlight it also counts when ContainerConcurrency is 0.
func (p *Proxy) InFlight() int { return int(p.active.Load()) }

// Breaker returns the proxy's breaker, nil when ContainerConcurrency is 0. Its
// InFlight is Knative's queue-depth gauge.
func (p *Proxy) Breaker() *Breaker { return p.breaker }

// ReportStat closes the current stats window at now and returns it as the
// autoscaler sees it: counts per second since the previous ReportStat, the pod name
// and the uptime. It is also what Stat returns from then on. Run calls it every second;
// an embedder that does not use Run may call it on its own schedule.
func (p *Proxy) ReportStat(now time.Time) metrics.Stat {
	s := p.stats.Report(now)
	prev := p.prevRep.Swap(now.UnixNano())
	if secs := float64(now.UnixNano()-prev) / 1e9; secs > 0 {
		s.RequestCount /= secs
		s.ProxiedRequestCount /= secs
	}
	s.PodName = p.opts.PodName
	s.ProcessUptime = now.Sub(p.start).Seconds()
	p.lastStat.Store(&s)
	return s
}

// Stat returns the latest Stat made by ReportStat (before the first one, a Stat with
// only the pod name, as Knative's queue-proxy serves).
func (p *Proxy) Stat() metrics.Stat { return *p.lastStat.Load() }

// StatsHandler serves Stat as Knative's autoscaler scrapes it: 200 with
// Content-Type application/protobuf and the protobuf body, whatever the Accept header.
func (p *Proxy) StatsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := p.Stat().AppendProto(make([]byte, 0, 128)) // room for a Kubernetes pod name
		w.Header().Set("Content-Type", metrics.ContentType)
		_, _ = w.Write(b)
	})
}
