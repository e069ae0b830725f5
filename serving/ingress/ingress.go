package ingress

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/activator"
	"github.com/servekit/servekit/queue"
	"github.com/servekit/servekit/route"
)

// Routes finds the route of a request: the weighted picker of the route that serves
// host (and tag, when tag-header routing is on and the request names one).
// *route.TableHolder implements it. Lookup runs on every request and must be safe for
// concurrent use.
type Routes interface {
	Lookup(host, tag string) (*route.Picker, bool)
}

// Reporter observes every request the Ingress served. Implementations must be safe
// for concurrent use and must not block: ReportRequest runs on the request path.
type Reporter interface {
	ReportRequest(RequestReport)
}

// RequestReport describes one request served by the Ingress.
type RequestReport struct {
	// Namespace, Route and Revision say where it went; Revision is empty for a
	// request no route matched.
	Namespace, Route, Revision string
	// Code is the status sent (0 if nothing was written); 101 for an upgraded
	// request (a websocket).
	Code int
	// Latency is the time from arrival to the end of the response; for an upgraded
	// request, to the end of the connection.
	Latency time.Duration
	// ViaActivator is true when the request went through the activator.
	ViaActivator bool
}

// Options configure an Ingress. Routes, Revision and Activator are required.
type Options struct {
	// Routes maps a request's host (and tag) to a route; required.
	Routes Routes
	// TagHeaderRouting makes the Knative-Serving-Tag header (route.TagHeader) pick
	// a tag's revision, as Knative's tag-header-based-routing feature does. False
	// ignores the header.
	TagHeaderRouting bool
	// Revision returns the data-path state of the revision the route picked, or nil
	// for a revision not (or no longer) known: the request then gets a 503. It runs
	// on every request, must be safe for concurrent use and should not block;
	// required.
	Revision func(key types.NamespacedName) *Revision
	// Activator serves the requests of revisions with the activator in the path;
	// required. Its resolver learns the revision with ResolveRevision.
	Activator http.Handler
	// DialContext connects to pods. Nil means a net.Dialer with a 5s timeout.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Reporter observes each request. Nil reports nothing.
	Reporter Reporter
}

// Ingress is an http.Handler that routes requests by Host to revisions, and each
// straight to a pod or through the activator. Create it with New.
type Ingress struct {
	routes   Routes
	tags     atomic.Bool // Options.TagHeaderRouting, then SetTagHeaderRouting
	revision func(types.NamespacedName) *Revision
	act      http.Handler
	reporter Reporter
	direct   *httputil.ReverseProxy // built once; the pod comes from the request context
	// directH2C is direct over cleartext HTTP/2, for the pods of H2C revisions.
	directH2C *httputil.ReverseProxy
	h1, h2c   *http.Transport
}

// SetTagHeaderRouting turns Knative-Serving-Tag header routing on or off for the
// requests that arrive from now on (Options.TagHeaderRouting at start), e.g. when
// config-features changes. The Routes must agree: their table resolves the tag.
func (in *Ingress) SetTagHeaderRouting(on bool) { in.tags.Store(on) }

// Revision is a revision's data-path state, read by the Ingress on every request
// without locks and written by its composer: whether the activator is in the path,
// and the addresses (host:port) of the ready pods. A new Revision has the activator
// in the path and no pods. Its methods are safe for concurrent use.
type Revision struct {
	key   activator.RevisionKey
	serve atomic.Bool              // SKS Serve mode: the activator is out of the path
	h2c   atomic.Bool              // the pods speak cleartext HTTP/2
	addrs atomic.Pointer[[]string] // ready pod addresses
	next  atomic.Uint64            // round-robin position
}

// NewRevision returns the state of revision key: activator in the path, no pods.
func NewRevision(key types.NamespacedName) *Revision {
	r := &Revision{key: activator.RevisionKey{Namespace: key.Namespace, Name: key.Name}}
	r.addrs.Store(&[]string{})
	return r
}

// Key returns the revision's name as the activator knows it.
func (r *Revision) Key() activator.RevisionKey { return r.key }

// ActivatorInPath reports whether requests go through the activator (Knative's SKS
// Proxy mode) rather than straight to a pod (Serve mode).
func (r *Revision) ActivatorInPath() bool { return !r.serve.Load() }

// SetActivatorInPath puts the activator in the path or takes it out, and reports
// whether that changed anything. Out of the path, requests still go through the
// activator while the revision has no ready pod.
func (r *Revision) SetActivatorInPath(inPath bool) (changed bool) {
	return r.serve.Swap(!inPath) != !inPath
}

// H2C reports whether direct requests go to the pods over cleartext HTTP/2.
func (r *Revision) H2C() bool { return r.h2c.Load() }

// SetH2C says whether the revision's pods speak cleartext HTTP/2 (Knative: the
// container port is named h2c): direct requests then go to them over h2c (prior
// knowledge) whatever protocol the client used, so that gRPC passes; upgrade
// requests (websockets) still go over HTTP/1.1, which alone can carry them. The
// default is HTTP/1.1. Set it before the revision takes traffic: revisions are
// immutable.
func (r *Revision) SetH2C(h2c bool) { r.h2c.Store(h2c) }

// Addresses returns the ready pods' addresses. The slice must not be modified.
func (r *Revision) Addresses() []string { return *r.addrs.Load() }

// SetAddresses replaces the ready pods' addresses (host:port), which direct requests
// take in turn. The Ingress keeps addrs: the caller must not modify it afterwards.
func (r *Revision) SetAddresses(addrs []string) {
	if addrs == nil {
		addrs = []string{}
	}
	r.addrs.Store(&addrs)
}

// ExpectContinueTimeout is how long the ingress waits for a pod's 100 Continue to
// a request with "Expect: 100-continue" before it sends the body anyway. Until the
// pod asks for the body the client is not asked for it either, so the app decides:
// one that answers at once without reading the body (413, 401) is never sent it.
// The queue proxy waits as long for the app; the activator, too.
const ExpectContinueTimeout = 2 * time.Second

// request is everything the ingress keeps about one request, in one allocation: it
// is the request's context on the way to the pod or the activator (Value answers
// stateKey with it and asks the client's context for anything else, so deadlines and
// cancellation are the client's), the status-recording writer, the body wrapper, and
// the backing array of the header values the proxy sets. Knative's ingress and
// httputil's SetXForwarded spend a context.WithValue, a writer and a slice per item.
type request struct {
	context.Context // the client's request context

	start time.Time // the request's arrival
	sw    statusWriter
	body  clientBody // the request's body, when it has one
	// viaActivator is set when the request went (or was handed) to the activator.
	viaActivator bool
	rev          activator.RevisionKey // for the activator's resolver (ResolveRevision)
	pod          string                // the pod address for the direct proxy
	// vals backs the values of X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto
	// and an empty User-Agent, each a one-element slice of it (rewrite).
	vals [4]string
}

// stateKey is the context key under which a request's context answers itself.
type stateKey struct{}

// Value returns the request itself for stateKey, and the client context's value
// for any other key.
func (s *request) Value(key any) any {
	if _, ok := key.(stateKey); ok {
		return s
	}
	return s.Context.Value(key)
}

// requestOf returns the ingress's state of r, nil for a request that did not come
// through an Ingress.
func requestOf(r *http.Request) *request {
	s, _ := r.Context().Value(stateKey{}).(*request)
	return s
}

// clientBody is a request's body as the ingress passes it on. It records whether
// reading it failed, so that the client's fault (a malformed chunked body, a client
// gone mid-body) is not taken for the pod's (issue 17).
type clientBody struct {
	rc     io.ReadCloser
	failed atomic.Bool // a Read returned an error other than io.EOF
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		b.failed.Store(true)
	}
	return n, err
}

func (b *clientBody) Close() error { return b.rc.Close() }

// outgoing returns r with s as its context, and with its body wrapped in s.body.
// Only the copy gets the wrapper: the server must keep its own body (for "Expect:
// 100-continue" and for draining it after the handler).
func (s *request) outgoing(r *http.Request) *http.Request {
	out := r.WithContext(s)
	if r.Body != nil && r.Body != http.NoBody {
		s.body.rc = r.Body
		out.Body = &s.body
	}
	return out
}

// New returns an Ingress configured by o.
func New(o Options) (*Ingress, error) {
	switch {
	case o.Routes == nil:
		return nil, errors.New("ingress: Options.Routes is required")
	case o.Revision == nil:
		return nil, errors.New("ingress: Options.Revision is required")
	case o.Activator == nil:
		return nil, errors.New("ingress: Options.Activator is required")
	}
	in := &Ingress{routes: o.Routes, revision: o.Revision, act: o.Activator, reporter: o.Reporter}
	in.tags.Store(o.TagHeaderRouting)
	if in.reporter == nil {
		in.reporter = nopReporter{}
	}
	dial := o.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	in.h1 = &http.Transport{
		DialContext:         dial,
		MaxIdleConns:        1000,
		MaxIdleConnsPerHost: 100,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		// Pass "Expect: 100-continue" through: send the body only once the pod
		// (in the end the app) asks for it, so an app that answers without
		// reading it (413, 401) is not sent a body it will not read (issue 17).
		ExpectContinueTimeout: ExpectContinueTimeout,
	}
	// One connection per pod carries all its streams, up to the pod's limit of
	// concurrent streams; a new one is opened only past it.
	in.h2c = activator.H2CTransport(in.h1)
	in.direct = in.newProxy(in.h1)
	in.directH2C = in.newProxy(in.h2c)
	return in, nil
}

func (in *Ingress) newProxy(tr http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:      rewrite,
		Transport:    tr,
		ErrorHandler: in.directError,
		ErrorLog:     log.New(io.Discard, "", 0),
		BufferPool:   queue.BufferPool{},
	}
}

// rewrite points the outgoing request at the pod and sets the X-Forwarded headers
// as httputil.ProxyRequest.SetXForwarded does (the proxy has removed the client's
// before Rewrite runs), and an empty User-Agent when the client sent none (what the
// proxy would otherwise set after Rewrite), with the values in the request's own
// array rather than a new slice each.
func rewrite(pr *httputil.ProxyRequest) {
	s := pr.In.Context().Value(stateKey{}).(*request)
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = s.pod
	pr.Out.Host = pr.In.Host
	h := pr.Out.Header
	if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		s.vals[0] = ip
		h["X-Forwarded-For"] = s.vals[0:1:1]
	} else {
		delete(h, "X-Forwarded-For")
	}
	s.vals[1] = pr.In.Host
	h["X-Forwarded-Host"] = s.vals[1:2:2]
	s.vals[2] = "http"
	if pr.In.TLS != nil {
		s.vals[2] = "https"
	}
	h["X-Forwarded-Proto"] = s.vals[2:3:3]
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = s.vals[3:4:4] // "": net/http then sends no User-Agent
	}
}

type nopReporter struct{}

func (nopReporter) ReportRequest(RequestReport) {}

// CloseIdleConnections closes the idle connections to pods (e.g. when the platform
// stops).
func (in *Ingress) CloseIdleConnections() {
	in.h1.CloseIdleConnections()
	in.h2c.CloseIdleConnections()
}

// ResolveRevision is the activator's resolver (activator.ResolverFunc) behind an
// Ingress: it returns the revision the Ingress picked for r, so no client header can
// choose one. A request that did not come through an Ingress gets
// activator.ErrUnknownRevision.
func ResolveRevision(r *http.Request) (activator.RevisionKey, error) {
	s := requestOf(r)
	if s == nil {
		return activator.RevisionKey{}, activator.ErrUnknownRevision
	}
	return s.rev, nil
}

// statusWriter records the status code for the request report. Unwrap keeps
// http.ResponseController (flush, hijack for websockets) working.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	switch {
	case code == http.StatusContinue:
		// The pod's 100 Continue, forwarded by the proxy. It is not passed on: the
		// transport starts reading the client's body right after it, and that first
		// read makes the server send the client its own 100 Continue (passing it on
		// as well would send two).
		return
	case code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols:
		// Other interim responses (103 Early Hints) pass through, unrecorded.
	case w.code == 0:
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack takes the connection over for an upgraded request (a websocket): the
// proxies hijack only to relay a pod's 101 Switching Protocols, which they write on
// the connection and never through WriteHeader, so the report records 101 here
// (issue 13: it said 0). The report's latency is then the connection's whole life.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.code == 0 {
		w.code = http.StatusSwitchingProtocols
	}
	return c, brw, err
}

// ServeHTTP routes r: 404 when no route serves its host, 503 when the picked
// revision is not known, else to a pod or the activator. It first removes the
// platform's internal probe headers (K-Network-Probe, K-Kubelet-Probe), which no
// outside request may carry.
func (in *Ingress) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// Probe headers are the platform's own, between its components; from outside they
	// would make the activator or a queue proxy answer in the app's place.
	delete(r.Header, queue.ProbeHeaderName)
	delete(r.Header, queue.KubeletProbeHeader)
	if v, ok := r.Header["Upgrade"]; ok && len(v) == 1 && strings.EqualFold(v[0], "h2c") {
		// An HTTP/1.1 offer to switch to cleartext HTTP/2 (RFC 7540 3.2) is declined,
		// as RFC 9110 7.8 allows: the request is served over HTTP/1.1. Passed on, it
		// would reach the app, and an app that accepts it would get a tunnel past
		// the platform. h2c with prior knowledge is served (see the package doc).
		// The proxies drop what Connection lists (Upgrade, HTTP2-Settings).
		delete(r.Header, "Upgrade")
		delete(r.Header, "Http2-Settings")
	}
	tag := ""
	if in.tags.Load() {
		tag = r.Header.Get(route.TagHeader)
	}
	p, ok := in.routes.Lookup(r.Host, tag)
	if !ok {
		http.Error(w, "servekit: no route for host "+quote(r.Host), http.StatusNotFound)
		in.reporter.ReportRequest(RequestReport{Code: http.StatusNotFound, Latency: time.Since(start)})
		return
	}
	rev := p.Pick()
	key := types.NamespacedName{Namespace: p.Namespace(), Name: rev}
	s := &request{Context: r.Context(), start: start}
	s.sw.ResponseWriter = w
	in.serveRevision(r, key, s)
	in.reporter.ReportRequest(RequestReport{
		Namespace: key.Namespace, Route: p.Route(), Revision: rev,
		Code: s.sw.code, Latency: time.Since(start), ViaActivator: s.viaActivator,
	})
}

// isUpgrade reports whether r asks for a protocol upgrade (a websocket), which only
// HTTP/1.1 can carry.
func isUpgrade(r *http.Request) bool {
	_, ok := r.Header["Upgrade"]
	return ok
}

func quote(s string) string { return "\"" + s + "\"" }

// serveRevision sends the request to one of the revision's pods, or to the activator.
func (in *Ingress) serveRevision(r *http.Request, key types.NamespacedName, s *request) {
	dp := in.revision(key)
	if dp == nil {
		http.Error(&s.sw, "servekit: revision "+key.String()+" is not known", http.StatusServiceUnavailable)
		return
	}
	s.rev = dp.key
	if dp.serve.Load() {
		if addrs := *dp.addrs.Load(); len(addrs) > 0 {
			s.pod = addrs[int(dp.next.Add(1)%uint64(len(addrs)))]
			proxy := in.direct
			if dp.h2c.Load() && !isUpgrade(r) {
				proxy = in.directH2C
			}
			proxy.ServeHTTP(&s.sw, s.outgoing(r))
			return
		}
	}
	s.viaActivator = true
	in.act.ServeHTTP(&s.sw, s.outgoing(r))
}

// directError handles a failed direct request: when nothing could be sent (the pod
// went away between the endpoint update and this request) and the request has no
// body to replay, it is handed to the activator, which waits for a pod. When the
// client's body could not be read, the client is at fault: 400 (413 past a
// http.MaxBytesReader limit), and nothing when it went away. Otherwise 502, or for a
// gRPC call a gRPC status (queue.WriteGRPCUpstreamError).
func (in *Ingress) directError(w http.ResponseWriter, r *http.Request, err error) {
	s := requestOf(r)
	if s != nil && s.body.failed.Load() {
		var mbe *http.MaxBytesError
		switch {
		case r.Context().Err() != nil:
			// The client went away: nobody to answer.
		case errors.As(err, &mbe):
			http.Error(w, "servekit: request body too large", http.StatusRequestEntityTooLarge)
		default:
			http.Error(w, "servekit: malformed request body: "+err.Error(), http.StatusBadRequest)
		}
		return
	}
	var op *net.OpError
	noBody := r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0
	if errors.As(err, &op) && op.Op == "dial" && noBody && r.Context().Err() == nil {
		if s != nil {
			s.viaActivator = true
		}
		in.act.ServeHTTP(w, r)
		return
	}
	if r.Context().Err() != nil {
		return // the client went away: nobody to answer
	}
	if s != nil && queue.WriteGRPCUpstreamError(w, r, time.Since(s.start), "servekit: pod unreachable: "+err.Error()) {
		return // a gRPC status, as Envoy answers
	}
	http.Error(w, "servekit: pod unreachable: "+err.Error(), http.StatusBadGateway)
}
