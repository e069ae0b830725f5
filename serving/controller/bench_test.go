package controller_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/serving/controller"
	v1 "github.com/servekit/servekit/serving/v1"
)

// BenchmarkIngress measures one request through the ingress to an in-process pod:
// "direct" with target-burst-capacity 0 (SKS Serve mode once the revision has a
// pod), "activator" with -1 (the activator always in the path).
func BenchmarkIngress(b *testing.B) {
	for _, bc := range []struct {
		name string
		tbc  float64
	}{{"direct", 0}, {"activator", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := autoscaler.DefaultConfig()
			cfg.TargetBurstCapacity = bc.tbc
			c, err := controller.New(controller.Options{Backend: newFakeBackend(), Autoscaler: &cfg})
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Apply("hello.yaml", []v1.Object{testService("hello", "example.com/hello")}); err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			defer func() { cancel(); <-done }()
			h := c.Handler()
			wantActivator := bc.tbc < 0
			for {
				st := c.Status()
				if len(st.Services) == 1 && st.Services[0].Ready && len(st.Services[0].Revisions) == 1 &&
					st.Services[0].Revisions[0].ActivatorInPath == wantActivator {
					break
				}
				time.Sleep(time.Millisecond) // poll interval of an observed condition
			}
			req := httptest.NewRequest(http.MethodGet, "http://hello.default.example.com/", nil)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
