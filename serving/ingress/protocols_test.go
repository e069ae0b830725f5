package ingress_test

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

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/activator"
	"github.com/servekit/servekit/queue"
	"github.com/servekit/servekit/serving/ingress"
)

// protocols returns net/http's protocols: HTTP/1.1 when h1, cleartext HTTP/2 with
// prior knowledge when h2c.
func protocols(h1, h2c bool) *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(h1)
	p.SetUnencryptedHTTP2(h2c)
	return p
}

// startServer serves h on loopback with the given protocols and counts the TCP
// connections it accepts.
func startServer(t *testing.T, h http.Handler, p *http.Protocols) (addr string, accepted *atomic.Int64) {
	t.Helper()
	accepted = new(atomic.Int64)
	s := httptest.NewUnstartedServer(h)
	s.Config.Protocols = p
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			accepted.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://"), accepted
}

// h2Stack serves an Ingress (HTTP/1.1 and h2c, as the platform serves it) in front of
// one pod of hello-00001: a queue proxy (HTTP/1.1 and h2c, as queue.Proxy.Run serves
// it) in front of app, straight or through a real activator (inPath). h2cRev says the
// revision's port is named h2c. appProto are the protocols the app speaks. It returns
// the ingress address and the count of connections the app accepted.
func h2Stack(t *testing.T, app http.Handler, appProto *http.Protocols, h2cRev, inPath bool) (string, *atomic.Int64) {
	return timeoutStack(t, app, appProto, h2cRev, inPath, 0)
}

// timeoutStack is h2Stack with the revision timeout (timeoutSeconds) given to the
// activator and the queue proxy; zero means 30s in the activator and none in the queue
// proxy.
func timeoutStack(t *testing.T, app http.Handler, appProto *http.Protocols, h2cRev, inPath bool, timeout time.Duration) (string, *atomic.Int64) {
	t.Helper()
	appAddr, appConns := startServer(t, app, appProto)
	qp, err := queue.NewProxy(queue.ProxyOptions{Target: appAddr, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(qp.CloseIdleConnections)
	podAddr, _ := startServer(t, qp, protocols(true, true))

	rev := ingress.NewRevision(helloKey)
	rev.SetH2C(h2cRev)
	thr := activator.NewThrottler(activator.Options{})
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	if err := thr.SetRevision(rev.Key(), activator.Revision{Timeout: timeout, H2C: h2cRev}); err != nil {
		t.Fatal(err)
	}
	if err := thr.UpdateEndpoints(rev.Key(), []string{podAddr}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- thr.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	act, err := activator.NewHandler(activator.HandlerOptions{Throttler: thr, Resolver: activator.ResolverFunc(ingress.ResolveRevision)})
	if err != nil {
		t.Fatal(err)
	}
	rev.SetActivatorInPath(inPath)
	rev.SetAddresses([]string{podAddr})
	in, err := ingress.New(ingress.Options{
		Routes:    routes(t, false),
		Revision:  func(types.NamespacedName) *ingress.Revision { return rev },
		Activator: act,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.CloseIdleConnections)
	addr, _ := startServer(t, in, protocols(true, true))
	return addr, appConns
}

// client speaks HTTP/1.1, or cleartext HTTP/2 with prior knowledge (h2c).
func client(t *testing.T, h2c bool) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 100}
	if h2c {
		tr.Protocols = protocols(false, true)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// protoApp answers with the protocol the request reached it over.
var protoApp = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	fmt.Fprintf(w, "app got %s", r.Proto)
})

// Issue 13: the ingress and the activator spoke HTTP/1.1 only. A client with prior
// knowledge of h2c got "connection reset by peer", and an app that speaks only
// HTTP/2 (a gRPC server) behind a revision whose port is named h2c got 502. Now the
// ingress serves both protocols, and every hop to the app speaks h2c for an h2c
// revision and HTTP/1.1 otherwise, whatever the client spoke, on both paths.
func TestH2C(t *testing.T) {
	for _, path := range []struct {
		name   string
		inPath bool
	}{{"direct", false}, {"activator", true}} {
		for _, tc := range []struct {
			name      string
			h2cRev    bool
			clientH2C bool
			want      string
		}{
			{"h2c revision, HTTP/1.1 client", true, false, "app got HTTP/2.0"},
			{"h2c revision, h2c client", true, true, "app got HTTP/2.0"},
			{"http1 revision, h2c client", false, true, "app got HTTP/1.1"},
			{"http1 revision, HTTP/1.1 client", false, false, "app got HTTP/1.1"},
		} {
			t.Run(path.name+"/"+tc.name, func(t *testing.T) {
				// The app speaks only what the revision says it speaks: an h2c-only
				// app fails any HTTP/1.1 request, an HTTP/1.1 app any h2c one.
				addr, _ := h2Stack(t, protoApp, protocols(!tc.h2cRev, tc.h2cRev), tc.h2cRev, path.inPath)
				req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader("body"))
				req.Host = "hello.default.example.com"
				resp, err := client(t, tc.clientH2C).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				wantClient := map[bool]int{false: 1, true: 2}[tc.clientH2C]
				if resp.StatusCode != http.StatusOK || string(body) != tc.want || resp.ProtoMajor != wantClient {
					t.Errorf("got %s %d %q, want HTTP/%d 200 %q", resp.Proto, resp.StatusCode, body, wantClient, tc.want)
				}
			})
		}
	}
}

// Connections are reused on every hop: 200 requests, 20 at a time, open about 20
// connections to the app over HTTP/1.1 and one over h2c (streams share it; the
// concurrent first requests wait for one dial instead of each dialling). HTTP/1.1 is
// allowed a quarter more than the concurrency: net/http's transport may start a dial
// for a request, hand the request a connection that came back idle meanwhile, and
// keep the dialled one in its pool (seen once under load: 21). A connection per
// request would be 200.
func TestConnectionReuse(t *testing.T) {
	const requests, conc = 200, 20
	for _, path := range []struct {
		name   string
		inPath bool
	}{{"direct", false}, {"activator", true}} {
		for _, tc := range []struct {
			name   string
			h2c    bool
			maxNew int64
		}{{"HTTP/1.1", false, conc + conc/4}, {"h2c", true, 1}} {
			t.Run(path.name+"/"+tc.name, func(t *testing.T) {
				addr, appConns := h2Stack(t, protoApp, protocols(!tc.h2c, tc.h2c), tc.h2c, path.inPath)
				c := client(t, tc.h2c)
				var wg sync.WaitGroup
				var failed atomic.Int64
				next := make(chan int, requests)
				for i := range requests {
					next <- i
				}
				close(next)
				for range conc {
					wg.Go(func() {
						for range next {
							req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
							req.Host = "hello.default.example.com"
							resp, err := c.Do(req)
							if err != nil {
								failed.Add(1)
								continue
							}
							_, _ = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							if resp.StatusCode != http.StatusOK {
								failed.Add(1)
							}
						}
					})
				}
				wg.Wait()
				if n := failed.Load(); n > 0 {
					t.Fatalf("%d of %d requests failed", n, requests)
				}
				if n := appConns.Load(); n > tc.maxNew {
					t.Errorf("the app accepted %d connections for %d requests, %d at a time; want at most %d", n, requests, conc, tc.maxNew)
				}
			})
		}
	}
}

// An HTTP/1.1 request offering "Upgrade: h2c" is served over HTTP/1.1: the offer is
// declined (RFC 9110 7.8), and never reaches the app, which could otherwise accept it
// and get a tunnel past the platform.
func TestUpgradeH2CDeclined(t *testing.T) {
	var sawUpgrade atomic.Bool
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" || r.Header.Get("Http2-Settings") != "" {
			sawUpgrade.Store(true)
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Upgrade", "h2c")
			w.WriteHeader(http.StatusSwitchingProtocols)
			return
		}
		fmt.Fprintf(w, "app got %s", r.Proto)
	})
	for _, inPath := range []bool{false, true} {
		t.Run(fmt.Sprintf("inPath=%t", inPath), func(t *testing.T) {
			addr, _ := h2Stack(t, app, protocols(true, false), false, inPath)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: hello.default.example.com\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n")
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 100))
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != "app got HTTP/1.1" || sawUpgrade.Load() {
				t.Errorf("got %d %q (app saw the upgrade offer: %t), want 200 \"app got HTTP/1.1\"", resp.StatusCode, body, sawUpgrade.Load())
			}
		})
	}
}

// A websocket (an HTTP/1.1 Upgrade) to an h2c revision goes to the app over
// HTTP/1.1, the only protocol that can carry it, on both paths.
func TestUpgradeToH2CRevision(t *testing.T) {
	for _, inPath := range []bool{false, true} {
		t.Run(fmt.Sprintf("inPath=%t", inPath), func(t *testing.T) {
			addr, _ := h2Stack(t, wsEcho, protocols(true, true), true, inPath)
			upgrade(t, addr)
		})
	}
}

// wsEcho answers an Upgrade request with 101 and echoes one line on the connection.
var wsEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != "websocket" {
		fmt.Fprintf(w, "app got %s", r.Proto)
		return
	}
	w.Header().Set("Connection", "Upgrade")
	w.Header().Set("Upgrade", "websocket")
	w.WriteHeader(http.StatusSwitchingProtocols)
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	line, _ := brw.ReadString('\n')
	_, _ = brw.WriteString("echo " + line)
	_ = brw.Flush()
})

// upgrade sends an Upgrade: websocket request for hello-00001 to the ingress at
// addr, checks the 101 and one echoed line, and closes the connection.
func upgrade(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: hello.default.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		t.Fatalf("got %d %q, want 101", resp.StatusCode, body)
	}
	fmt.Fprint(c, "hi\n")
	if line, err := br.ReadString('\n'); err != nil || line != "echo hi\n" {
		t.Errorf("read %q, %v; want \"echo hi\\n\"", line, err)
	}
}

// Issue 13: an upgraded request (a websocket) was reported with code 0, as if
// nothing had been answered. It is reported 101, on both paths, once the connection
// ends.
func TestUpgradeReported(t *testing.T) {
	for _, inPath := range []bool{false, true} {
		t.Run(fmt.Sprintf("inPath=%t", inPath), func(t *testing.T) {
			rec := &recorder{}
			u := stack(t, wsEcho, inPath, rec, nil)
			upgrade(t, strings.TrimPrefix(u, "http://"))
			got := rec.wait(t, 1)
			if len(got) != 1 || got[0].Code != http.StatusSwitchingProtocols || got[0].ViaActivator != inPath || got[0].Revision != helloKey.Name {
				t.Errorf("reports %+v, want one with Code 101, ViaActivator %t, Revision %s", got, inPath, helloKey.Name)
			}
		})
	}
}

// Issue 13: one timeout rule for a revision wherever the activator sits. Through the
// activator a websocket was cut at timeoutSeconds; behind the queue proxy alone it was
// not. Now, on both paths, timeoutSeconds bounds a request until its response (a slow
// one gets 504) and an upgrade until its 101, and the upgraded connection lives on.
func TestOneTimeoutRule(t *testing.T) {
	// Long enough for an upgrade through every hop on a loaded machine.
	const timeout = time.Second
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			select { // a slow answer: past the revision timeout
			case <-time.After(10 * time.Second):
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		w.WriteHeader(http.StatusSwitchingProtocols)
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			_, _ = brw.WriteString("echo " + line)
			_ = brw.Flush()
		}
	})
	for _, inPath := range []bool{false, true} {
		t.Run(fmt.Sprintf("inPath=%t", inPath), func(t *testing.T) {
			t.Parallel() // each waits three timeouts
			addr, _ := timeoutStack(t, app, protocols(true, false), false, inPath, timeout)
			req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/slow", nil)
			req.Host = "hello.default.example.com"
			resp, err := client(t, false).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusGatewayTimeout {
				t.Errorf("a request slower than the timeout got %d, want 504", resp.StatusCode)
			}

			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: hello.default.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
			br := bufio.NewReader(c)
			if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("upgrade: %v, %v; want 101", resp, err)
			}
			opened := time.Now()
			for i := 0; i < 2; i++ {
				if i == 1 {
					// Let three revision timeouts pass: there is nothing to observe but
					// the connection staying open.
					time.Sleep(3*timeout - time.Since(opened))
				}
				fmt.Fprintf(c, "m%d\n", i)
				want := fmt.Sprintf("echo m%d\n", i)
				if line, err := br.ReadString('\n'); err != nil || line != want {
					t.Fatalf("after %v: read %q, %v; want %q", time.Since(opened).Round(time.Millisecond), line, err, want)
				}
			}
		})
	}
}
