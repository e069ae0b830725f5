package queue

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/websocket"

	"github.com/servekit/servekit/autoscaler/metrics"
)

// running is a Proxy served by Run on loopback listeners.
type running struct {
	p       *Proxy
	url     string // serving listener
	admin   string
	metrics string
	cancel  context.CancelFunc
	done    chan error
}

// stop cancels Run and waits for it to return.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// startApp starts the user container on loopback (HTTP/1.1 and h2c).
func startApp(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	app := httptest.NewUnstartedServer(h)
	app.Config.Protocols = new(http.Protocols)
	app.Config.Protocols.SetHTTP1(true)
	app.Config.Protocols.SetUnencryptedHTTP2(true)
	app.Start()
	t.Cleanup(app.Close)
	return app
}

// startProxy runs a Proxy in front of app with opts (Target is filled in).
func startProxy(t *testing.T, app *httptest.Server, opts ProxyOptions) *running {
	t.Helper()
	if opts.Target == "" {
		opts.Target = app.Listener.Addr().String()
	}
	if opts.DrainQuietPeriod == 0 {
		opts.DrainQuietPeriod = time.Millisecond
	}
	p, err := NewProxy(opts)
	if err != nil {
		t.Fatal(err)
	}
	ls := Listeners{Serving: listen(t), Admin: listen(t), Metrics: listen(t)}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{
		p: p, cancel: cancel, done: make(chan error, 1),
		url:     "http://" + ls.Serving.Addr().String(),
		admin:   "http://" + ls.Admin.Addr().String(),
		metrics: "http://" + ls.Metrics.Addr().String(),
	}
	go func() { r.done <- p.Run(ctx, ls) }()
	t.Cleanup(func() {
		if err := r.stop(t); err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	return r
}

type result struct {
	code int
	body string
	err  error
}

func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100, DisableCompression: true}}
}

func get(c *http.Client, req *http.Request) result {
	res, err := c.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return result{code: res.StatusCode, body: string(b), err: err}
}

func mustReq(t *testing.T, method, url string, hdr map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	return req
}

// slowApp blocks every request on /slow until release is closed and counts them.
type slowApp struct {
	started atomic.Int64
	release chan struct{}
}

func (a *slowApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/slow" {
		a.started.Add(1)
		select {
		case <-a.release:
		case <-r.Context().Done():
			return
		}
	}
	fmt.Fprint(w, "done "+r.URL.Path)
}

func TestProxyBreakerAdmitsElevenTimesCC(t *testing.T) {
	app := &slowApp{release: make(chan struct{})}
	srv := startApp(t, app)
	rp := startProxy(t, srv, ProxyOptions{ContainerConcurrency: 2})
	c := newClient()
	defer c.CloseIdleConnections()

	const admitted = 22 // 2 running + 20 queued (queue depth 10 × CC)
	results := make(chan result, admitted)
	for range admitted {
		go func() { results <- get(c, mustReq(t, "GET", rp.url+"/slow", nil)) }()
	}
	waitFor(t, "2 running and 22 admitted", func() bool {
		return app.started.Load() == 2 && rp.p.Breaker().InFlight() == admitted
	})
	if got := rp.p.InFlight(); got != admitted {
		t.Errorf("Proxy.InFlight() = %d, want %d", got, admitted)
	}

	got := get(c, mustReq(t, "GET", rp.url+"/slow", nil))
	if diff := cmp.Diff(result{code: 503, body: "pending request queue full\n"}, got, cmp.AllowUnexported(result{})); diff != "" {
		t.Errorf("23rd request (-want +got):\n%s", diff)
	}

	close(app.release)
	for range admitted {
		r := <-results
		if diff := cmp.Diff(result{code: 200, body: "done /slow"}, r, cmp.AllowUnexported(result{})); diff != "" {
			t.Errorf("admitted request (-want +got):\n%s", diff)
		}
	}
}

func TestProxyTimeouts(t *testing.T) {
	// blockUntilCancelled writes prefix (if any), flushes, then waits until the
	// proxy gives up on the request.
	blockUntilCancelled := func(prefix string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if prefix != "" {
				io.WriteString(w, prefix)
				http.NewResponseController(w).Flush()
			}
			<-r.Context().Done()
		}
	}
	tests := []struct {
		name string
		opts ProxyOptions
		app  http.HandlerFunc
		want result
	}{{
		name: "total, nothing written",
		opts: ProxyOptions{Timeout: 50 * time.Millisecond},
		app:  blockUntilCancelled(""),
		want: result{code: 504, body: "request timeout"},
	}, {
		name: "total, response started: text appended",
		opts: ProxyOptions{Timeout: time.Second}, // long enough for the app's first write
		app:  blockUntilCancelled("partial "),
		want: result{code: 200, body: "partial request timeout"},
	}, {
		name: "response start",
		opts: ProxyOptions{Timeout: time.Minute, ResponseStartTimeout: 50 * time.Millisecond},
		app:  blockUntilCancelled(""),
		want: result{code: 504, body: "request timeout"},
	}, {
		name: "idle, nothing written",
		opts: ProxyOptions{Timeout: time.Minute, IdleTimeout: 50 * time.Millisecond},
		app:  blockUntilCancelled(""),
		want: result{code: 504, body: "request timeout"},
	}, {
		name: "idle after a write",
		opts: ProxyOptions{Timeout: time.Minute, IdleTimeout: 500 * time.Millisecond},
		app:  blockUntilCancelled("chunk "),
		want: result{code: 200, body: "chunk request timeout"},
	}, {
		name: "no timeout fires on a quick response",
		opts: ProxyOptions{Timeout: time.Minute, ResponseStartTimeout: time.Minute, IdleTimeout: time.Minute},
		app:  func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") },
		want: result{code: 200, body: "ok"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startApp(t, tc.app)
			rp := startProxy(t, srv, tc.opts)
			c := newClient()
			defer c.CloseIdleConnections()
			got := get(c, mustReq(t, "GET", rp.url+"/", nil))
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(result{})); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProxyTimeoutWhileQueued(t *testing.T) {
	// The total timeout counts the wait in the breaker (Knative: 504, not 503/500).
	srv := startApp(t, http.NotFoundHandler())
	rp := startProxy(t, srv, ProxyOptions{ContainerConcurrency: 1, Timeout: 100 * time.Millisecond})
	release, ok := rp.p.Breaker().Reserve(context.Background()) // the only slot is busy
	if !ok {
		t.Fatal("Reserve failed")
	}
	defer release()
	c := newClient()
	defer c.CloseIdleConnections()
	got := get(c, mustReq(t, "GET", rp.url+"/queued", nil))
	if diff := cmp.Diff(result{code: 504, body: "request timeout"}, got, cmp.AllowUnexported(result{})); diff != "" {
		t.Errorf("queued request (-want +got):\n%s", diff)
	}
	if got := rp.p.Breaker().InFlight(); got != 1 {
		t.Errorf("InFlight after the timeout = %d, want 1 (the reservation)", got)
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	srv := startApp(t, http.NotFoundHandler())
	rp := startProxy(t, srv, ProxyOptions{Target: addr})
	c := newClient()
	defer c.CloseIdleConnections()
	got := get(c, mustReq(t, "GET", rp.url+"/", nil))
	if got.code != 502 || !strings.Contains(got.body, "connection refused") || !strings.HasSuffix(got.body, "\n") {
		t.Errorf("response = %d %q, want 502 with the dial error", got.code, got.body)
	}
}

// recorder is a ResponseWriter that records whether anything was written.
type recorder struct {
	h     http.Header
	wrote atomic.Bool
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { r.wrote.Store(true); return len(b), nil }
func (r *recorder) WriteHeader(int)             { r.wrote.Store(true) }

func TestProxyClientGoneWritesNothing(t *testing.T) {
	app := &slowApp{release: make(chan struct{})}
	srv := startApp(t, app)
	p, err := NewProxy(ProxyOptions{Target: srv.Listener.Addr().String(), ContainerConcurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseIdleConnections()
	tests := []struct {
		name string
		hold bool // keep the only slot busy, so the request waits in the breaker
	}{{"while proxying", false}, {"while queued", true}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.hold {
				rel, ok := p.Breaker().Reserve(context.Background())
				if !ok {
					t.Fatal("Reserve failed")
				}
				defer rel()
			}
			ctx, cancel := context.WithCancel(context.Background())
			req := httptest.NewRequest("GET", "/slow", nil).WithContext(ctx)
			rec := &recorder{h: make(http.Header)}
			done := make(chan struct{})
			before := app.started.Load()
			go func() { p.ServeHTTP(rec, req); close(done) }()
			if tc.hold {
				waitFor(t, "request queued", func() bool { return p.Breaker().numWaiters() == 1 })
			} else {
				waitFor(t, "request at the app", func() bool { return app.started.Load() == before+1 })
			}
			cancel()
			<-done
			if rec.wrote.Load() {
				t.Error("something was written for a client that went away")
			}
		})
	}
}

func TestProxyWebsocketEcho(t *testing.T) {
	srv := startApp(t, websocket.Handler(func(ws *websocket.Conn) { io.Copy(ws, ws) }))
	rp := startProxy(t, srv, ProxyOptions{ContainerConcurrency: 1, Timeout: time.Minute, IdleTimeout: time.Minute})
	ws, err := websocket.Dial("ws"+strings.TrimPrefix(rp.url, "http")+"/ws", "", rp.url)
	if err != nil {
		t.Fatalf("Dial through the proxy: %v", err)
	}
	for _, msg := range []string{"hello", "through the queue proxy"} {
		if err := websocket.Message.Send(ws, msg); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := websocket.Message.Receive(ws, &got); err != nil {
			t.Fatal(err)
		}
		if got != msg {
			t.Errorf("echo = %q, want %q", got, msg)
		}
	}
	if got := rp.p.Breaker().InFlight(); got != 1 {
		t.Errorf("breaker InFlight during the websocket = %d, want 1", got)
	}
	ws.Close()
	waitFor(t, "websocket released", func() bool { return rp.p.Breaker().InFlight() == 0 })
}

func TestProxyH2C(t *testing.T) {
	srv := startApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "app saw HTTP/%d", r.ProtoMajor)
	}))
	rp := startProxy(t, srv, ProxyOptions{ContainerConcurrency: 5})
	h2 := &http.Transport{Protocols: new(http.Protocols)}
	h2.Protocols.SetUnencryptedHTTP2(true)
	tests := []struct {
		name      string
		transport *http.Transport
		want      string
		wantProto int
	}{
		{"h2c prior knowledge", h2, "app saw HTTP/2", 2},
		{"HTTP/1.1 on the same port", &http.Transport{}, "app saw HTTP/1", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer tc.transport.CloseIdleConnections()
			res, err := (&http.Client{Transport: tc.transport}).Get(rp.url + "/")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.ProtoMajor != tc.wantProto || string(b) != tc.want {
				t.Errorf("got HTTP/%d %q, want HTTP/%d %q", res.ProtoMajor, b, tc.wantProto, tc.want)
			}
		})
	}
}

// seen is what the app observed of one request.
type seen struct {
	Host       string
	Headers    []string // Knative/servekit headers that reached the app
	InBreaker  int      // breaker InFlight while the app ran
	Reached    bool
	StatCount  float64
	StatProxed float64
}

func TestProxySpoofing(t *testing.T) {
	const token = "s3cret"
	var (
		mu   sync.Mutex
		last seen
		p    *Proxy
	)
	srv := startApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		last = seen{Host: r.Host, InBreaker: p.Breaker().InFlight(), Reached: true}
		for _, k := range []string{PeerTokenHeader, ProxyHeaderName, OriginalHostHeader, KubeletProbeHeader} {
			if v := r.Header.Get(k); v != "" {
				last.Headers = append(last.Headers, k+": "+v)
			}
		}
		io.WriteString(w, "app")
	}))

	type tcase struct {
		name    string
		hdr     map[string]string
		want    seen
		wantRes result
	}
	untrusted := func(extra map[string]string) map[string]string { return extra }
	withToken := func(tok string, extra map[string]string) map[string]string {
		m := map[string]string{PeerTokenHeader: tok}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	counted := seen{Host: "app.example", InBreaker: 1, Reached: true, StatCount: 1}
	tests := []tcase{
		// (a) bypassing the breaker and stats.
		{"a: K-Kubelet-Probe without token", untrusted(map[string]string{KubeletProbeHeader: "1"}), counted, result{code: 200, body: "app"}},
		{"a: K-Kubelet-Probe with wrong token", withToken("guess", map[string]string{KubeletProbeHeader: "1"}), counted, result{code: 200, body: "app"}},
		{"a: K-Kubelet-Probe with token", withToken(token, map[string]string{KubeletProbeHeader: "1"}),
			seen{Host: "app.example", InBreaker: 0, Reached: true, Headers: []string{KubeletProbeHeader + ": 1"}}, result{code: 200, body: "app"}},
		{"a: kube-probe UA without token", untrusted(map[string]string{"User-Agent": "kube-probe/1.30"}), counted, result{code: 200, body: "app"}},
		{"a: kube-probe UA with token", withToken(token, map[string]string{"User-Agent": "kube-probe/1.30"}),
			seen{}, result{code: 400, body: "unexpected probe header value: \n"}},
		// (b) hiding from autoscaling.
		{"b: K-Proxy-Request without token", untrusted(map[string]string{ProxyHeaderName: ProxyHeaderValue}), counted, result{code: 200, body: "app"}},
		{"b: K-Proxy-Request with token", withToken(token, map[string]string{ProxyHeaderName: ProxyHeaderValue}),
			seen{Host: "app.example", InBreaker: 1, Reached: true, StatCount: 1, StatProxed: 1, Headers: []string{ProxyHeaderName + ": activator"}}, result{code: 200, body: "app"}},
		// (c) rewriting Host.
		{"c: K-Original-Host without token", untrusted(map[string]string{OriginalHostHeader: "evil.example"}), counted, result{code: 200, body: "app"}},
		{"c: K-Original-Host with token", withToken(token, map[string]string{OriginalHostHeader: "evil.example"}),
			seen{Host: "evil.example", InBreaker: 1, Reached: true, StatCount: 1}, result{code: 200, body: "app"}},
	}
	var err error
	p, err = NewProxy(ProxyOptions{Target: srv.Listener.Addr().String(), ContainerConcurrency: 1, PeerToken: token})
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseIdleConnections()
	front := httptest.NewServer(p)
	defer front.Close()
	c := newClient()
	defer c.CloseIdleConnections()
	now := epoch
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			last = seen{}
			mu.Unlock()
			now = now.Add(time.Second)
			p.ReportStat(now) // start a fresh window
			hdr := map[string]string{"Host": "app.example"}
			for k, v := range tc.hdr {
				hdr[k] = v
			}
			res := get(c, mustReq(t, "GET", front.URL+"/", hdr))
			if diff := cmp.Diff(tc.wantRes, res, cmp.AllowUnexported(result{})); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			now = now.Add(time.Second)
			st := p.ReportStat(now)
			mu.Lock()
			got := last
			mu.Unlock()
			got.StatCount, got.StatProxed = st.RequestCount, st.ProxiedRequestCount
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("seen by the app (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProxyTrustKnativeHeaders(t *testing.T) {
	var host atomic.Value
	srv := startApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { host.Store(r.Host) }))
	p, err := NewProxy(ProxyOptions{Target: srv.Listener.Addr().String(), TrustKnativeHeaders: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseIdleConnections()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set(OriginalHostHeader, "orig.example")
	req.Header.Set(ProxyHeaderName, ProxyHeaderValue)
	p.ReportStat(epoch)
	p.ServeHTTP(httptest.NewRecorder(), req)
	st := p.ReportStat(epoch.Add(time.Second))
	if got := host.Load(); got != "orig.example" {
		t.Errorf("app saw Host %v, want orig.example", got)
	}
	if st.ProxiedRequestCount != 1 {
		t.Errorf("ProxiedRequestCount = %v, want 1", st.ProxiedRequestCount)
	}
}

func TestProxyProbes(t *testing.T) {
	srv := startApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app") }))
	appPort := srv.Listener.Addr().(*net.TCPAddr).Port
	closed := listen(t)
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	tests := []struct {
		name   string
		probes []Probe
		drain  bool
		hdr    map[string]string
		want   result
	}{
		{"no probe: ready", nil, false, map[string]string{ProbeHeaderName: "queue"}, result{code: 200, body: "queue"}},
		{"tcp ready", []Probe{{TCPSocket: &TCPSocketAction{Port: appPort}, Period: time.Second}}, false,
			map[string]string{ProbeHeaderName: "queue"}, result{code: 200, body: "queue"}},
		{"tcp not ready", []Probe{{TCPSocket: &TCPSocketAction{Port: closedPort}, Period: time.Second}}, false,
			map[string]string{ProbeHeaderName: "queue"}, result{code: 503}},
		{"http ready", []Probe{{HTTPGet: &HTTPGetAction{Port: appPort, Path: "/healthz"}, Period: time.Second}}, false,
			map[string]string{ProbeHeaderName: "queue", "User-Agent": "Knative-Activator-Probe"}, result{code: 200, body: "queue"}},
		{"draining", nil, true, map[string]string{ProbeHeaderName: "queue"}, result{code: 503, body: "shutting down\n"}},
		{"network probe", nil, false, map[string]string{ProbeHeaderName: "probe", NetworkHashHeader: "abc"}, result{code: 200}},
		{"network probe without hash", nil, false, map[string]string{ProbeHeaderName: "probe"},
			result{code: 400, body: "a probe request must contain a non-empty \"K-Network-Hash\" header\n"}},
		{"network probe draining", nil, true, map[string]string{ProbeHeaderName: "probe", NetworkHashHeader: "abc"}, result{code: 503, body: "shutting down\n"}},
		{"other probe value reaches the app", nil, false, map[string]string{ProbeHeaderName: "other"}, result{code: 200, body: "app"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewProxy(ProxyOptions{Target: srv.Listener.Addr().String(), ReadinessProbes: tc.probes, DrainQuietPeriod: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer p.CloseIdleConnections()
			if tc.drain {
				if err := p.Drain(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/healthz", nil)
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			p.ServeHTTP(rec, req)
			got := result{code: rec.Code, body: rec.Body.String()}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(result{})); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			if h := tc.hdr[NetworkHashHeader]; h != "" && rec.Code == 200 && rec.Header().Get(NetworkHashHeader) != h {
				t.Errorf("K-Network-Hash echo = %q, want %q", rec.Header().Get(NetworkHashHeader), h)
			}
		})
	}
}

func TestReadinessAggressiveWaitsForApp(t *testing.T) {
	// The app opens its port only after the probe started: Knative's 50 ms polling
	// finds it without a kubelet period.
	ln := listen(t)
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	r := newReadiness([]Probe{{TCPSocket: &TCPSocketAction{Port: addr.Port}}}, false, RealClock{})
	got := make(chan bool, 1)
	go func() { got <- r.check(context.Background()) }()
	waitFor(t, "a probe run in progress", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.mu.run != nil
	})
	ln2, err := net.Listen("tcp", addr.String())
	if err != nil {
		t.Skipf("port %d was taken meanwhile: %v", addr.Port, err)
	}
	defer ln2.Close()
	if !<-got {
		t.Error("check = false, want true once the app listens")
	}
}

func TestReadinessHTTP(t *testing.T) {
	var (
		hits    atomic.Int64
		ua, hdr atomic.Value
	)
	srv := startApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua.Store(r.UserAgent())
		hdr.Store(r.Header.Get("X-Custom"))
		if hits.Add(1) < 3 {
			w.WriteHeader(500)
		}
	}))
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	r := newReadiness([]Probe{{HTTPGet: &HTTPGetAction{Port: port, Path: "ready", Headers: http.Header{"X-Custom": {"v"}}}, SuccessThreshold: 2}}, false, RealClock{})
	if !r.check(context.Background()) {
		t.Fatal("check = false, want true after the app recovers")
	}
	if got := hits.Load(); got != 4 { // 2 failures, then 2 consecutive successes
		t.Errorf("attempts = %d, want 4", got)
	}
	if diff := cmp.Diff([]any{"kube-probe//", "v"}, []any{ua.Load(), hdr.Load()}); diff != "" {
		t.Errorf("probe request (-want +got):\n%s", diff)
	}
}

func TestProxyDrainLosesNoRequest(t *testing.T) {
	app := &slowApp{release: make(chan struct{})}
	srv := startApp(t, app)
	p, err := NewProxy(ProxyOptions{Target: srv.Listener.Addr().String(), ContainerConcurrency: 10, DrainQuietPeriod: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, Listeners{Serving: ln}) }()
	c := newClient()
	defer c.CloseIdleConnections()

	inflight := make(chan result, 1)
	go func() { inflight <- get(c, mustReq(t, "GET", url+"/slow", nil)) }()
	waitFor(t, "request in flight", func() bool { return app.started.Load() == 1 })

	cancel() // SIGTERM
	waitFor(t, "draining", p.Draining)
	probe := get(c, mustReq(t, "GET", url+"/", map[string]string{ProbeHeaderName: "queue"}))
	if diff := cmp.Diff(result{code: 503, body: "shutting down\n"}, probe, cmp.AllowUnexported(result{})); diff != "" {
		t.Errorf("health probe while draining (-want +got):\n%s", diff)
	}
	// New requests during the quiet period are still served.
	late := get(c, mustReq(t, "GET", url+"/late", nil))
	if diff := cmp.Diff(result{code: 200, body: "done /late"}, late, cmp.AllowUnexported(result{})); diff != "" {
		t.Errorf("request during drain (-want +got):\n%s", diff)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned %v with a request in flight", err)
	default:
	}
	close(app.release)
	if diff := cmp.Diff(result{code: 200, body: "done /slow"}, <-inflight, cmp.AllowUnexported(result{})); diff != "" {
		t.Errorf("in-flight request (-want +got):\n%s", diff)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
}

func TestProxyDrainWaitsForWebsocket(t *testing.T) {
	srv := startApp(t, websocket.Handler(func(ws *websocket.Conn) { io.Copy(ws, ws) }))
	p, err := NewProxy(ProxyOptions{Target: srv.Listener.Addr().String(), DrainQuietPeriod: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, Listeners{Serving: ln}) }()
	ws, err := websocket.Dial("ws"+strings.TrimPrefix(url, "http")+"/", "", url)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	waitFor(t, "draining", p.Draining)
	// The hijacked connection still works while Run waits for it.
	if err := websocket.Message.Send(ws, "still here"); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := websocket.Message.Receive(ws, &got); err != nil || got != "still here" {
		t.Fatalf("echo during shutdown = %q, %v", got, err)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned %v with a websocket open", err)
	default:
	}
	ws.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after the websocket closed")
	}
}

func TestProxyAdminAndMetrics(t *testing.T) {
	srv := startApp(t, http.NotFoundHandler())
	rp := startProxy(t, srv, ProxyOptions{PodName: "pod-1", DrainQuietPeriod: time.Millisecond})
	c := newClient()
	defer c.CloseIdleConnections()

	res, err := c.Get(rp.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != metrics.ContentType {
		t.Errorf("Content-Type = %q, want %q", ct, metrics.ContentType)
	}
	var got metrics.Stat
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	if got.PodName != "pod-1" {
		t.Errorf("Stat.PodName = %q, want pod-1", got.PodName)
	}
	if res := get(c, mustReq(t, "GET", rp.metrics+"/other", nil)); res.code != 404 {
		t.Errorf("metrics /other = %d, want 404", res.code)
	}

	if res := get(c, mustReq(t, "GET", rp.admin+"/wait-for-drain", nil)); res.code != 200 {
		t.Errorf("/wait-for-drain = %d, want 200", res.code)
	}
	if !rp.p.Draining() {
		t.Error("not draining after /wait-for-drain")
	}
	// Not stopped within a second: the drain is reset (the user container restarted).
	waitFor(t, "drain reset", func() bool { return !rp.p.Draining() })
}

// TestProxyBadInput sends what no client should. Each case has its own proxy: the
// slow client and the short request need a short ReadHeaderTimeout to be answered
// quickly, but the huge header must not meet it. That deadline covers reading the whole header, and
// reading 1 MiB of it on a loaded machine under -race can take longer than 100 ms;
// the server then closes the connection with the rest of the header unread, the
// kernel answers the client with a reset instead of the 431, and the case failed
// now and then.
func TestProxyBadInput(t *testing.T) {
	srv := startApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app") }))
	raw := func(t *testing.T, addr, send string) string {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(conn, send)
		line, _ := bufio.NewReader(conn).ReadString('\n')
		return strings.TrimSpace(line)
	}
	tests := []struct {
		name, send, want  string
		readHeaderTimeout time.Duration
	}{
		// Shorter than the HTTP/2 preface: the server waits for more until the
		// header deadline, then answers 400.
		{"malformed request line", "GARBAGE\r\n\r\n", "HTTP/1.1 400 Bad Request", 100 * time.Millisecond},
		{"huge header", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n", "HTTP/1.1 431 Request Header Fields Too Large", 0},
		{"slow client", "GET / HTTP/1.1\r\nHost: x\r\n", "", 100 * time.Millisecond}, // never finishes: the server closes it
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rp := startProxy(t, srv, ProxyOptions{ReadHeaderTimeout: tc.readHeaderTimeout})
			if got := raw(t, strings.TrimPrefix(rp.url, "http://"), tc.send); got != tc.want {
				t.Errorf("status line = %q, want %q", got, tc.want)
			}
			// The proxy still answers everyone else.
			c := newClient()
			defer c.CloseIdleConnections()
			if got := get(c, mustReq(t, "GET", rp.url+"/", nil)); got.code != 200 || got.body != "app" {
				t.Errorf("next request = %+v, want 200 app", got)
			}
		})
	}
}

func TestNewProxyErrors(t *testing.T) {
	tests := []struct {
		name string
		opts ProxyOptions
		want string
	}{
		{"no target", ProxyOptions{}, "Target"},
		{"negative concurrency", ProxyOptions{Target: "127.0.0.1:1", ContainerConcurrency: -1}, "ContainerConcurrency"},
		{"negative queue depth", ProxyOptions{Target: "127.0.0.1:1", QueueDepth: -1}, "QueueDepth"},
		{"negative timeout", ProxyOptions{Target: "127.0.0.1:1", Timeout: -1}, "Timeout"},
		{"bad probe", ProxyOptions{Target: "127.0.0.1:1", ReadinessProbes: []Probe{{}}}, "ReadinessProbes[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewProxy(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewProxy = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestProxyReporter(t *testing.T) {
	srv := startApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	var rep reports
	p, err := NewProxy(ProxyOptions{Target: srv.Listener.Addr().String(), ContainerConcurrency: 1, Reporter: &rep,
		Clock: &steppingClock{now: epoch, step: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseIdleConnections()
	p.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	p.ServeHTTP(httptest.NewRecorder(), mustReq(t, "GET", "/", map[string]string{ProbeHeaderName: "queue"}))
	want := []RequestReport{{Code: 201, Latency: 20 * time.Millisecond, BreakerWait: 10 * time.Millisecond}}
	if diff := cmp.Diff(want, rep.get()); diff != "" {
		t.Errorf("reports (-want +got):\n%s", diff)
	}
}

type reports struct {
	mu sync.Mutex
	rs []RequestReport
}

func (r *reports) ReportRequest(rr RequestReport) {
	r.mu.Lock()
	r.rs = append(r.rs, rr)
	r.mu.Unlock()
}

func (r *reports) get() []RequestReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rs
}

func TestReadinessSingleFlight(t *testing.T) {
	var hits atomic.Int64
	release := make(chan struct{})
	srv := startApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release
	}))
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	r := newReadiness([]Probe{{HTTPGet: &HTTPGetAction{Port: port}, Period: time.Second, Timeout: time.Minute}}, false, RealClock{})
	const callers = 5
	results := make(chan bool, callers)
	for range callers {
		go func() { results <- r.check(context.Background()) }()
	}
	waitFor(t, "one probe and four callers sharing it", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return hits.Load() == 1 && r.mu.joined == callers-1
	})
	close(release)
	for range callers {
		if !<-results {
			t.Error("check = false, want true")
		}
	}
	if got := hits.Load(); got != 1 {
		t.Errorf("probe requests = %d, want 1", got)
	}
	// A later check starts a new run.
	if !r.check(context.Background()) || hits.Load() != 2 {
		t.Errorf("second check: hits = %d, want 2", hits.Load())
	}
}

func TestProxyTrailers(t *testing.T) {
	srv := startApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "Grpc-Status")
		io.WriteString(w, "body")
		w.Header().Set("Grpc-Status", "0")
		w.Header().Set(http.TrailerPrefix+"Late", "yes") // undeclared trailer
	}))
	rp := startProxy(t, srv, ProxyOptions{ContainerConcurrency: 1, Timeout: time.Minute})
	h2 := &http.Transport{Protocols: new(http.Protocols)}
	h2.Protocols.SetUnencryptedHTTP2(true)
	for _, tc := range []struct {
		name string
		tr   *http.Transport
	}{{"HTTP/1.1", &http.Transport{}}, {"h2c", h2}} {
		t.Run(tc.name, func(t *testing.T) {
			defer tc.tr.CloseIdleConnections()
			res, err := (&http.Client{Transport: tc.tr}).Get(rp.url + "/")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			got := map[string]string{"body": string(b), "Grpc-Status": res.Trailer.Get("Grpc-Status"), "Late": res.Trailer.Get("Late")}
			want := map[string]string{"body": "body", "Grpc-Status": "0", "Late": "yes"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	p, err := NewProxy(ProxyOptions{Target: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background(), Listeners{}); err == nil || !strings.Contains(err.Error(), "Listeners.Serving") {
		t.Errorf("Run without a serving listener = %v, want an error naming Listeners.Serving", err)
	}
	ln := listen(t)
	ln.Close() // Serve fails at once
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background(), Listeners{Serving: ln}) }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Run on a closed listener = nil, want the accept error")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its server failed")
	}
}

// grpcHealth is a fake grpc.health.v1 server: it answers SERVING (1) for the
// services in serving and NOT_SERVING (2) for others.
func grpcHealth(t *testing.T, serving map[string]bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/grpc.health.v1.Health/Check" || r.ProtoMajor != 2 || r.Header.Get("Content-Type") != "application/grpc" {
			t.Errorf("unexpected gRPC request %s %s HTTP/%d %q", r.Method, r.URL.Path, r.ProtoMajor, r.Header.Get("Content-Type"))
			w.WriteHeader(400)
			return
		}
		b, _ := io.ReadAll(r.Body)
		service := ""
		if len(b) > 7 { // frame header, tag, length, name
			service = string(b[7:])
		}
		status := byte(2)
		if serving[service] {
			status = 1
		}
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status")
		w.Write([]byte{0, 0, 0, 0, 2, 1 << 3, status})
		w.Header().Set("Grpc-Status", "0")
	}
}

func TestReadinessGRPC(t *testing.T) {
	srv := startApp(t, grpcHealth(t, map[string]bool{"": true, "up": true}))
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	tests := []struct {
		service string
		want    bool
	}{{"", true}, {"up", true}, {"down", false}}
	for _, tc := range tests {
		t.Run("service="+tc.service, func(t *testing.T) {
			r := newReadiness([]Probe{{GRPC: &GRPCAction{Port: port, Service: tc.service}, Period: time.Second}}, false, RealClock{})
			if got := r.check(context.Background()); got != tc.want {
				t.Errorf("check = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHealthStatus(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want uint64
	}{
		{"serving", []byte{0x08, 0x01}, 1},
		{"not serving", []byte{0x08, 0x02}, 2},
		{"empty", nil, 0},
		{"unknown fields skipped", []byte{0x12, 0x01, 'x', 0x08, 0x01, 0x19, 0, 0, 0, 0, 0, 0, 0, 0}, 1},
		{"truncated", []byte{0x08}, 0},
		{"bad length", []byte{0x12, 0x05, 'x'}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := healthStatus(tc.in); got != tc.want {
				t.Errorf("healthStatus(%x) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestReadinessHTTP2AutoDetection(t *testing.T) {
	var protos sync.Map
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos.Store(r.ProtoMajor, true)
	})
	h1only := httptest.NewServer(handler) // speaks HTTP/1.1 only
	defer h1only.Close()
	both := startApp(t, handler) // HTTP/1.1 and h2c
	tests := []struct {
		name      string
		srv       *httptest.Server
		auto      bool
		wantProto int
	}{
		{"off: HTTP/1.1", both, false, 1},
		{"auto: h2c when the app speaks it", both, true, 2},
		{"auto: falls back to HTTP/1.1", h1only, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			protos.Clear()
			port := tc.srv.Listener.Addr().(*net.TCPAddr).Port
			r := newReadiness([]Probe{{HTTPGet: &HTTPGetAction{Port: port}, Period: time.Second}}, tc.auto, RealClock{})
			if !r.check(context.Background()) {
				t.Fatal("check = false, want true")
			}
			if _, ok := protos.Load(tc.wantProto); !ok {
				t.Errorf("the app saw no HTTP/%d request", tc.wantProto)
			}
		})
	}
}

// WaitIdle wakes every waiter when the last request ends (no polling), and
// returns ctx's error when ctx ends first (issue 17: the local runtime's drain
// polled InFlight every 10 ms).
func TestWaitIdleWakesEveryWaiter(t *testing.T) {
	app := &slowApp{release: make(chan struct{})}
	srv := startApp(t, app)
	p, err := NewProxy(ProxyOptions{Target: srv.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseIdleConnections()
	if err := p.WaitIdle(context.Background()); err != nil {
		t.Fatalf("WaitIdle with nothing in flight = %v, want nil at once", err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		p.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/slow", nil))
	}()
	deadline := time.Now().Add(20 * time.Second)
	for app.started.Load() == 0 || p.InFlight() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the app")
		}
		time.Sleep(time.Millisecond) // poll interval of an observed condition
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.WaitIdle(ctx); err != context.Canceled {
		t.Errorf("WaitIdle(cancelled) with a request in flight = %v, want context.Canceled", err)
	}

	const waiters = 3
	woke := make(chan error, waiters)
	for range waiters {
		go func() { woke <- p.WaitIdle(context.Background()) }()
	}
	close(app.release)
	<-served
	for i := range waiters {
		select {
		case err := <-woke:
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%d of %d waiters still waiting after the last request ended", waiters-i, waiters)
		}
	}
}
