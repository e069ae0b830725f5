package ingress_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
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
// The queue proxy, the throttler and the activator log to log (nil discards).
func stack(t *testing.T, app http.Handler, inPath bool, rep ingress.Reporter, log *slog.Logger) string {
	t.Helper()
	srv := httptest.NewServer(stackIngress(t, app, inPath, rep, log))
	t.Cleanup(srv.Close)
	return srv.URL
}

// stackIngress is stack's Ingress, not served.
func stackIngress(t *testing.T, app http.Handler, inPath bool, rep ingress.Reporter, log *slog.Logger) *ingress.Ingress {
	t.Helper()
	appSrv := httptest.NewServer(app)
	t.Cleanup(appSrv.Close)
	// The peer token, as the platforms set it: the activator's forwarded requests are
	// trusted by the queue proxy, the ingress's direct ones are not.
	const token = "stack-peer-token"
	qp, err := queue.NewProxy(queue.ProxyOptions{Target: strings.TrimPrefix(appSrv.URL, "http://"), Logger: log, PeerToken: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(qp.CloseIdleConnections)
	podSrv := httptest.NewServer(qp)
	t.Cleanup(podSrv.Close)
	addr := strings.TrimPrefix(podSrv.URL, "http://")

	rev := ingress.NewRevision(helloKey)
	thr := activator.NewThrottler(activator.Options{Logger: log, PeerToken: token})
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
	act, err := activator.NewHandler(activator.HandlerOptions{Throttler: thr, Resolver: activator.ResolverFunc(ingress.ResolveRevision), Logger: log, PeerToken: token})
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
	return in
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
			url := stack(t, tc.app, tc.inPath, rep, nil)
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

// syncBuffer is a log destination safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Issue 17: a malformed chunked body was answered 502 "pod unreachable" and logged
// as the pod's failure (WARN), on both paths. It is the client's fault: 400, nothing
// logged at WARN, and the app's partial read is its only trace. A client that goes
// away mid-body is not the pod's failure either.
func TestClientBodyErrors(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "read %d %v", n, err)
	})
	const head = "POST / HTTP/1.1\r\nHost: hello.default.example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, inPath := range []bool{false, true} {
		via := map[bool]string{false: "direct", true: "activator"}[inPath]
		t.Run(via, func(t *testing.T) {
			logs := &syncBuffer{}
			rep := &recorder{}
			url := stack(t, app, inPath, rep, slog.New(slog.NewTextHandler(logs, nil)))
			addr := strings.TrimPrefix(url, "http://")

			t.Run("malformed chunk", func(t *testing.T) {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if _, err := io.WriteString(c, head+"5\r\nhello\r\nzz\r\nxxx\r\n0\r\n\r\n"); err != nil {
					t.Fatal(err)
				}
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatalf("no response: %v", err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "malformed request body") {
					t.Errorf("response = %d %q, want 400 malformed request body", resp.StatusCode, b)
				}
				if got := rep.wait(t, 1); got[0].Code != http.StatusBadRequest {
					t.Errorf("reported code %d, want 400", got[0].Code)
				}
			})
			t.Run("client gone mid-body", func(t *testing.T) {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.WriteString(c, head+"10\r\nhello"); err != nil {
					t.Fatal(err)
				}
				_ = c.Close()
				if got := rep.wait(t, 1); got[0].Code == http.StatusBadGateway {
					t.Errorf("reported code %d, want anything but 502", got[0].Code)
				}
			})
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
					t.Errorf("logged: %s", line)
				}
			}
		})
	}
}
