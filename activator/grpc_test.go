package activator

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/servekit/servekit/queue"
)

// grpcAnswer is what a client reads of a response: its HTTP status, the gRPC status
// and message in its header (trailers-only) or in its trailers, and its body.
type grpcAnswer struct {
	Code                          int
	HeaderStatus, Message         string
	TrailerStatus, TrailerMessage string
	Body                          string
}

// TestGRPCTimeouts: the activator answers a gRPC call it cannot complete in time with
// a gRPC status naming itself, as the queue proxy and the ingress do, not with a
// 503 or 504 a gRPC client reads as Unavailable (with an unparsable body). A plain
// request keeps Knative's 503 and 504.
func TestGRPCTimeouts(t *testing.T) {
	const timeout = 300 * time.Millisecond
	release := make(chan struct{})
	pod := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // then the server notices the activator hang up
		if r.Header.Get(queue.ProbeHeaderName) == queue.ProbeHeaderValue {
			_, _ = io.WriteString(w, queue.ProbeHeaderValue)
			return
		}
		if r.URL.Path == "/started" {
			// The response starts (a gRPC server's header), then nothing more.
			w.Header().Set("Content-Type", "application/grpc")
			w.WriteHeader(http.StatusOK)
			http.NewResponseController(w).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer pod.Close()
	defer close(release) // before the pod's Close, which waits for its handlers
	withPod := RevisionKey{Namespace: "default", Name: "slow-00001"}
	noPod := RevisionKey{Namespace: "default", Name: "cold-00001"}
	a := startActivator(t, Options{}, map[RevisionKey]Revision{
		withPod: {ContainerConcurrency: 10, Timeout: timeout},
		noPod:   {ContainerConcurrency: 10, Timeout: timeout},
	})
	if err := a.t.UpdateEndpoints(withPod, []string{strings.TrimPrefix(pod.URL, "http://")}); err != nil {
		t.Fatal(err)
	}
	call := func(t *testing.T, key RevisionKey, path string, hdr http.Header) grpcAnswer {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, a.srv.URL+path, strings.NewReader("\x00\x00\x00\x00\x00"))
		for k, v := range hdr {
			req.Header[k] = v
		}
		req.Header.Set("X-Revision", key.String())
		resp, err := a.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return grpcAnswer{Code: resp.StatusCode, HeaderStatus: resp.Header.Get("Grpc-Status"), Message: resp.Header.Get("Grpc-Message"),
			TrailerStatus: resp.Trailer.Get("Grpc-Status"), TrailerMessage: resp.Trailer.Get("Grpc-Message"), Body: string(b)}
	}
	grpc := http.Header{"Content-Type": {"application/grpc"}, "Te": {"trailers"}}
	withTimeout := func(v string) http.Header {
		h := grpc.Clone()
		h.Set("Grpc-Timeout", v)
		return h
	}
	for _, tc := range []struct {
		name string
		key  RevisionKey
		path string
		hdr  http.Header
		want grpcAnswer
	}{
		{"plain: no pod in time", noPod, "/", nil, grpcAnswer{Code: 503, Body: "activator request timeout\n"}},
		{"plain: the pod answers too late", withPod, "/", nil, grpcAnswer{Code: 504, Body: "activator request timeout\n"}},
		{"gRPC: no pod in time", noPod, "/", grpc,
			grpcAnswer{Code: 200, HeaderStatus: "14", Message: "activator request timeout"}},
		{"gRPC: no pod before the call's own deadline", noPod, "/", withTimeout("100m"),
			grpcAnswer{Code: 200, HeaderStatus: "4", Message: "activator request timeout"}},
		{"gRPC: no pod in time, the call's deadline later", noPod, "/", withTimeout("10S"),
			grpcAnswer{Code: 200, HeaderStatus: "14", Message: "activator request timeout"}},
		{"gRPC: the pod answers too late", withPod, "/", grpc,
			grpcAnswer{Code: 200, HeaderStatus: "4", Message: "activator request timeout"}},
		{"gRPC: the pod's answer started, then too late", withPod, "/started", grpc,
			grpcAnswer{Code: 200, TrailerStatus: "4", TrailerMessage: "activator request timeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			got := call(t, tc.key, tc.path, tc.hdr)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if d := time.Since(start); d < 100*time.Millisecond || d > 10*time.Second {
				t.Errorf("answered after %v, want about the revision timeout (%v) or the call's deadline", d, timeout)
			}
		})
	}
}
