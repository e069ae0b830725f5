package ingress_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/activator"
	"github.com/servekit/servekit/queue"
	"github.com/servekit/servekit/serving/ingress"
)

// BenchmarkIngress measures one request through the ingress to an in-process pod:
// "direct" with the activator out of the path (SKS Serve mode), "activator" with it
// in the path (a real activator.Handler and Throttler, as serving/controller
// composes them).
func BenchmarkIngress(b *testing.B) {
	for _, bc := range []struct {
		name   string
		inPath bool
	}{{"direct", false}, {"activator", true}} {
		b.Run(bc.name, func(b *testing.B) {
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get(queue.ProbeHeaderName) == queue.ProbeHeaderValue {
					_, _ = io.WriteString(w, queue.ProbeHeaderValue)
					return
				}
				_, _ = io.WriteString(w, "rev=hello-00001")
			}))
			defer s.Close()
			addr := strings.TrimPrefix(s.URL, "http://")

			thr := activator.NewThrottler(activator.Options{})
			rev := ingress.NewRevision(helloKey)
			if err := thr.SetRevision(rev.Key(), activator.Revision{Timeout: 10 * time.Second}); err != nil {
				b.Fatal(err)
			}
			if err := thr.UpdateEndpoints(rev.Key(), []string{addr}); err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- thr.Run(ctx) }()
			defer func() { cancel(); <-done }()
			act, err := activator.NewHandler(activator.HandlerOptions{
				Throttler: thr,
				Resolver:  activator.ResolverFunc(ingress.ResolveRevision),
			})
			if err != nil {
				b.Fatal(err)
			}
			rev.SetActivatorInPath(bc.inPath)
			rev.SetAddresses([]string{addr})
			in, err := ingress.New(ingress.Options{
				Routes:    routes(b, false),
				Revision:  func(types.NamespacedName) *ingress.Revision { return rev },
				Activator: act,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer in.CloseIdleConnections()
			if tr, ok := thr.Transport().(*http.Transport); ok {
				defer tr.CloseIdleConnections()
			}

			req := httptest.NewRequest(http.MethodGet, "http://hello.default.example.com/", nil)
			for deadline := time.Now().Add(10 * time.Second); ; { // until the activator's probe passed
				rec := httptest.NewRecorder()
				in.ServeHTTP(rec, req)
				if rec.Code == http.StatusOK {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("no 200 within 10s: %d %s", rec.Code, rec.Body)
				}
				time.Sleep(time.Millisecond)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rec := httptest.NewRecorder()
				in.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
