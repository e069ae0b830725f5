package ingress_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/activator"
	"github.com/servekit/servekit/queue"
	"github.com/servekit/servekit/serving/ingress"
)

// stack serves an Ingress on loopback in front of one pod of hello-00001: a real
// queue proxy in front of app, reachable directly (inPath false) or through a real
// activator (inPath true), as serving/controller composes them. It returns the
// ingress URL.
func stack(t *testing.T, app http.Handler, inPath bool, rep ingress.Reporter) string {
	t.Helper()
	appSrv := httptest.NewServer(app)
	t.Cleanup(appSrv.Close)
	qp, err := queue.NewProxy(queue.ProxyOptions{Target: strings.TrimPrefix(appSrv.URL, "http://")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(qp.CloseIdleConnections)
	podSrv := httptest.NewServer(qp)
	t.Cleanup(podSrv.Close)
	addr := strings.TrimPrefix(podSrv.URL, "http://")

	rev := ingress.NewRevision(helloKey)
	thr := activator.NewThrottler(activator.Options{})
	if err := thr.SetRevision(rev.Key(), activator.Revision{Timeout: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := thr.UpdateEndpoints(rev.Key(), []string{addr}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- thr.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if tr, ok := thr.Transport().(*http.Transport); ok {
			tr.CloseIdleConnections()
		}
	})
	act, err := activator.NewHandler(activator.HandlerOptions{Throttler: thr, Resolver: activator.ResolverFunc(ingress.ResolveRevision)})
	if err != nil {
		t.Fatal(err)
	}
	rev.SetActivatorInPath(inPath)
	rev.SetAddresses([]string{addr})
	in, err := ingress.New(ingress.Options{
		Routes:    routes(t, false),
		Revision:  func(types.NamespacedName) *ingress.Revision { return rev },
		Activator: act,
		Reporter:  rep,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.CloseIdleConnections)
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	return srv.URL
}

// countingReader is n zero bytes that count how many were read.
type countingReader struct {
	left int64
	read atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > r.left {
		n = r.left
	}
	clear(p[:n])
	r.left -= n
	r.read.Add(n)
	return int(n), nil
}

// Issue 17: the ingress answered "Expect: 100-continue" itself, before the app
// decided. The client then sent its whole body to an app that answered 413 without
// reading it, and often got a reset connection (or a 502) instead of the 413. Now
// the expectation goes through to the app on both paths: an app that answers at once
// is never sent the body and its answer always arrives; one that reads the body asks
// for it, once.
func TestExpectContinue(t *testing.T) {
	const size = 8 << 20
	reject := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	})
	read := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "read %d %v", n, err)
	})
	for _, tc := range []struct {
		name      string
		app       http.Handler
		inPath    bool
		wantCode  int
		wantBody  string
		want100   int   // 100 Continue responses the client gets
		wantBytes int64 // body bytes the client sends
	}{
		{"direct, app answers without reading", reject, false, 413, "too large", 0, 0},
		{"activator, app answers without reading", reject, true, 413, "too large", 0, 0},
		{"direct, app reads the body", read, false, 200, fmt.Sprintf("read %d <nil>", size), 1, size},
		{"activator, app reads the body", read, true, 200, fmt.Sprintf("read %d <nil>", size), 1, size},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := &recorder{}
			url := stack(t, tc.app, tc.inPath, rep)
			// A client that waits for 100 Continue (longer than the test takes)
			// before it sends the body.
			tr := &http.Transport{ExpectContinueTimeout: time.Minute}
			t.Cleanup(tr.CloseIdleConnections)
			for i := range 3 {
				body := &countingReader{left: size}
				var interim atomic.Int32
				ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
					Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
						if code == http.StatusContinue {
							interim.Add(1)
						}
						return nil
					},
				})
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
				if err != nil {
					t.Fatal(err)
				}
				req.Host = "hello.default.example.com"
				req.ContentLength = size
				req.Header.Set("Expect", "100-continue")
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatalf("request %d: %v, want the final response", i, err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatalf("request %d: reading the response: %v", i, err)
				}
				if got := strings.TrimSpace(string(b)); resp.StatusCode != tc.wantCode || got != tc.wantBody {
					t.Errorf("request %d = %d %q, want %d %q", i, resp.StatusCode, got, tc.wantCode, tc.wantBody)
				}
				if got := int(interim.Load()); got != tc.want100 {
					t.Errorf("request %d: got %d 100 Continue, want %d", i, got, tc.want100)
				}
				if got := body.read.Load(); got != tc.wantBytes {
					t.Errorf("request %d: the client sent %d body bytes, want %d", i, got, tc.wantBytes)
				}
			}
			var codes []int
			for _, r := range rep.wait(t, 3) {
				codes = append(codes, r.Code)
			}
			if diff := cmp.Diff([]int{tc.wantCode, tc.wantCode, tc.wantCode}, codes); diff != "" {
				t.Errorf("reported codes (-want +got):\n%s", diff)
			}
		})
	}
}
