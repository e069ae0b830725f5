package activator

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/servekit/servekit/queue"
)

// inProcessPod answers like a pod's queue proxy without a network: the probe with
// "queue", anything else with a small body.
type inProcessPod struct{}

func (inProcessPod) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	body := "hello"
	if r.Header.Get(queue.ProbeHeaderName) == queue.ProbeHeaderValue {
		body = queue.ProbeHeaderValue
	}
	return &http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{"Content-Type": {"text/plain"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}, nil
}

func warmThrottler(b *testing.B, cc, pods int) *Throttler {
	b.Helper()
	th := NewThrottler(Options{Transport: inProcessPod{}})
	if err := th.SetRevision(testKey, Revision{ContainerConcurrency: cc}); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- th.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	addrs := make([]string, pods)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("10.0.0.%d:8012", i+1)
	}
	if err := th.UpdateEndpoints(testKey, addrs); err != nil {
		b.Fatal(err)
	}
	for len(*th.revs[testKey].assigned.Load()) != pods {
		time.Sleep(time.Millisecond)
	}
	return th
}

// BenchmarkHandlerWarm is the activator's cost per request when capacity is there:
// resolve, admit, pick a pod, proxy (to an in-process pod, so only the activator is
// measured). "bare-reverseproxy" is a plain httputil.ReverseProxy to the same pod, the
// floor any proxy pays.
func BenchmarkHandlerWarm(b *testing.B) {
	th := warmThrottler(b, 0, 2)
	h, err := NewHandler(HandlerOptions{
		Throttler: th,
		Resolver:  ResolverFunc(func(*http.Request) (RevisionKey, error) { return testKey, nil }),
		PeerToken: "t",
	})
	if err != nil {
		b.Fatal(err)
	}
	bare := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(&url.URL{Scheme: "http", Host: "10.0.0.1:8012"}) },
		Transport: inProcessPod{},
	}
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"activator", h}, {"bare-reverseproxy", bare}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			req := httptest.NewRequest(http.MethodGet, "http://hello.example.com/", nil)
			for b.Loop() {
				rec := httptest.NewRecorder()
				c.h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkThrottlerTry measures admission alone, sequential and under contention.
func BenchmarkThrottlerTry(b *testing.B) {
	for _, c := range []struct{ cc, pods int }{{0, 4}, {2, 4}, {10, 4}} {
		th := warmThrottler(b, c.cc, c.pods)
		noop := func(string) error { return nil }
		ctx := context.Background()
		b.Run(fmt.Sprintf("cc=%d/sequential", c.cc), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := th.Try(ctx, testKey, noop); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("cc=%d/parallel", c.cc), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := th.Try(ctx, testKey, noop); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkScaleFromZero measures, on loopback, the time from the platform pushing the
// address of a new pod to the first buffered request being handed to it: one probe
// round trip plus the release from the queue. Reported as ns/scale-from-zero.
func BenchmarkScaleFromZero(b *testing.B) {
	pod := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, queue.ProbeHeaderValue)
	}))
	defer pod.Close()
	addr := strings.TrimPrefix(pod.URL, "http://")
	th := NewThrottler(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- th.Run(ctx) }()
	defer func() { cancel(); <-done }()

	var total time.Duration
	for i := 0; b.Loop(); i++ {
		key := RevisionKey{Namespace: "bench", Name: fmt.Sprint("rev-", i)}
		if err := th.SetRevision(key, Revision{ContainerConcurrency: 1}); err != nil {
			b.Fatal(err)
		}
		forwarded := make(chan time.Time, 1)
		go th.Try(ctx, key, func(string) error { forwarded <- time.Now(); return nil })
		for th.Waiting(key) == 0 {
			time.Sleep(10 * time.Microsecond)
		}
		start := time.Now()
		if err := th.UpdateEndpoints(key, []string{addr}); err != nil {
			b.Fatal(err)
		}
		total += (<-forwarded).Sub(start)
		th.RemoveRevision(key)
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/scale-from-zero")
}
