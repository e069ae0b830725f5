package controller

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/activator"
	"github.com/servekit/servekit/route"
)

// ingress routes requests by Host through the route table to a revision, then either
// straight to a pod (SKS Serve mode) or through the activator (Proxy mode).
type ingress struct {
	c      *Controller
	direct *httputil.ReverseProxy // built once; the pod comes from the request context
}

type ctxKey int

const (
	revKey  ctxKey = iota // activator.RevisionKey for the activator's resolver
	podKey                // string: the pod address for the direct proxy
	infoKey               // *requestInfo
)

// requestInfo carries what the ingress learned about a request to its report.
type requestInfo struct {
	viaActivator bool
}

func newIngress(c *Controller) *ingress {
	in := &ingress{c: c}
	dial := c.dial
	if dial == nil {
		dial = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	in.direct = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = pr.In.Context().Value(podKey).(string)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport: &http.Transport{
			DialContext:         dial,
			MaxIdleConns:        1000,
			MaxIdleConnsPerHost: 100,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		ErrorHandler: in.directError,
		ErrorLog:     log.New(io.Discard, "", 0),
		BufferPool:   &bufferPool{},
	}
	return in
}

// closeIdle closes the idle connections to pods (Run's end).
func (in *ingress) closeIdle() {
	if tr, ok := in.direct.Transport.(*http.Transport); ok {
		tr.CloseIdleConnections()
	}
}

// bufferPool recycles the proxy's 32 KiB copy buffers (httputil.BufferPool).
type bufferPool struct{ p sync.Pool }

func (bp *bufferPool) Get() []byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}

func (bp *bufferPool) Put(b []byte) { bp.p.Put(&b) }

// resolveFromContext is the activator's Resolver: the ingress already picked the
// revision (so no client header can choose one).
func resolveFromContext(r *http.Request) (activator.RevisionKey, error) {
	k, ok := r.Context().Value(revKey).(activator.RevisionKey)
	if !ok {
		return activator.RevisionKey{}, activator.ErrUnknownRevision
	}
	return k, nil
}

// statusWriter records the status code for the request report. Unwrap keeps
// http.ResponseController (flush, hijack for websockets) working.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
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

func (in *ingress) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := in.c
	start := time.Now()
	tag := ""
	if c.netCfg.TagHeaderRouting {
		tag = r.Header.Get(route.TagHeader)
	}
	p, ok := c.table.Lookup(r.Host, tag)
	if !ok {
		http.Error(w, "servekit: no route for host "+quote(r.Host), http.StatusNotFound)
		c.reporter.ReportRequest(RequestReport{Code: http.StatusNotFound, Latency: time.Since(start)})
		return
	}
	rev := p.Pick()
	key := types.NamespacedName{Namespace: p.Namespace(), Name: rev}
	sw := &statusWriter{ResponseWriter: w}
	info := &requestInfo{}
	in.serveRevision(sw, r, key, info)
	c.reporter.ReportRequest(RequestReport{
		Namespace: key.Namespace, Route: p.Route(), Revision: rev,
		Code: sw.code, Latency: time.Since(start), ViaActivator: info.viaActivator,
	})
}

func quote(s string) string { return "\"" + s + "\"" }

// serveRevision sends the request to one of the revision's pods, or to the activator.
func (in *ingress) serveRevision(w http.ResponseWriter, r *http.Request, key types.NamespacedName, info *requestInfo) {
	dp := (*in.c.dp.Load())[key]
	if dp == nil {
		http.Error(w, "servekit: revision "+key.String()+" is not known", http.StatusServiceUnavailable)
		return
	}
	ctx := context.WithValue(r.Context(), infoKey, info)
	if dp.serve.Load() {
		if addrs := *dp.addrs.Load(); len(addrs) > 0 {
			addr := addrs[int(dp.next.Add(1)%uint64(len(addrs)))]
			ctx = context.WithValue(ctx, podKey, addr)
			ctx = context.WithValue(ctx, revKey, dp.key)
			in.direct.ServeHTTP(w, r.WithContext(ctx))
			return
		}
	}
	info.viaActivator = true
	in.c.act.ServeHTTP(w, r.WithContext(context.WithValue(ctx, revKey, dp.key)))
}

// directError handles a failed direct request: when nothing could be sent (the pod
// went away between the endpoint update and this request) and the request has no
// body to replay, it is handed to the activator, which waits for a pod; otherwise 502.
func (in *ingress) directError(w http.ResponseWriter, r *http.Request, err error) {
	var op *net.OpError
	noBody := r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0
	if errors.As(err, &op) && op.Op == "dial" && noBody && r.Context().Err() == nil {
		if info, ok := r.Context().Value(infoKey).(*requestInfo); ok {
			info.viaActivator = true
		}
		in.c.act.ServeHTTP(w, r)
		return
	}
	if r.Context().Err() != nil {
		return // the client went away: nobody to answer
	}
	http.Error(w, "servekit: pod unreachable: "+err.Error(), http.StatusBadGateway)
}
