package queue

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"
)

// discardWriter is a reusable ResponseWriter, so the benchmark counts the proxy's
// allocations and not a recorder's.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkProxyServeHTTP measures one proxied request in-process, against a
// loopback app: a bare httputil.ReverseProxy (the floor) and the queue Proxy without
// and with a breaker, with Knative's default 300 s timeout armed.
func BenchmarkProxyServeHTTP(b *testing.B) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer app.Close()
	target := app.Listener.Addr().String()

	bare := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(&url.URL{Scheme: "http", Host: target}) },
		Transport: newTransport(100),
	}
	handlers := []struct {
		name string
		h    http.Handler
	}{{"reverseproxy", bare}}
	for _, cc := range []int{0, 10} {
		p, err := NewProxy(ProxyOptions{Target: target, ContainerConcurrency: cc, Timeout: 300 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		defer p.CloseIdleConnections()
		name := "queue/cc=0"
		if cc > 0 {
			name = "queue/cc=10"
		}
		handlers = append(handlers, struct {
			name string
			h    http.Handler
		}{name, p})
	}
	defer bare.Transport.(*transport).closeIdle()

	for _, hc := range handlers {
		b.Run(hc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "http://app.example/", nil)
			w := &discardWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				hc.h.ServeHTTP(w, req)
			}
		})
		b.Run(hc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest("GET", "http://app.example/", nil)
				w := &discardWriter{h: make(http.Header)}
				for pb.Next() {
					clear(w.h)
					hc.h.ServeHTTP(w, req)
				}
			})
		})
	}
}
