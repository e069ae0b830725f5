package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/servekit/servekit/serving/controller"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// grpcServiceTimeout is grpcService with the revision's timeoutSeconds.
func grpcServiceTimeout(name, tbc string, timeoutSeconds int) string {
	return strings.Replace(grpcService(name, tbc), "    spec:\n      containers:",
		"    spec:\n      timeoutSeconds: "+strconv.Itoa(timeoutSeconds)+"\n      containers:", 1)
}

// TestRealGRPCThroughAFakeKubelet is TestGRPC on the cluster path: the controller in
// cluster mode against a real API server makes a Deployment per h2c revision, whose
// pods the fake kubelet runs as the real queue-proxy binary in front of the gRPC app
// (this test binary), on the sidecar's h2c port (8013) and the private Service's
// "http2" port, as Knative's. On both paths, ingress → activator → queue proxy → app
// and ingress → queue proxy → app: a unary call from zero pods (scale from zero on a
// gRPC call), the deadline the app sees, DeadlineExceeded for a call past its own
// deadline and for one past the revision's timeoutSeconds, Unavailable from the app
// with its header and trailer, and a 10,000-message bidirectional stream that
// survives a scale-up (issue 13 item 2).
func TestRealGRPCThroughAFakeKubelet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and starts a real API server")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const revisionTimeout = 4 * time.Second
	fc := startFakeCluster(t, grpcConfig, map[string]string{testImage: self})
	fc.apply(t, grpcServiceTimeout("grpc-act", "-1", int(revisionTimeout/time.Second)))
	fc.apply(t, grpcServiceTimeout("grpc-direct", "0", int(revisionTimeout/time.Second)))
	// The long stream runs on Services with the default timeoutSeconds (300 s): on
	// the ones above their 4 s would cut it, as it cuts any request in Knative.
	fc.apply(t, grpcService("grpc-act-stream", "-1"))
	fc.apply(t, grpcService("grpc-direct-stream", "0"))
	for _, tc := range []struct{ svc, via string }{{"grpc-act", "activator"}, {"grpc-direct", "direct"}} {
		t.Run(tc.via, func(t *testing.T) {
			t.Parallel() // two Services, independent of each other
			host, rev := tc.svc+".default.example.com", tc.svc+"-00001"
			conn, err := grpc.NewClient("passthrough:///"+fc.r.ingress.Addr().String(),
				grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority(host))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			call := func(ctx context.Context, v string, opts ...grpc.CallOption) (string, error) {
				return unary(ctx, conn, v, opts...)
			}
			waitFor(t, tc.svc+" applied with no pod", time.Minute, func() bool {
				r := revision(fc.status(t), tc.svc, rev)
				return r != nil && r.ActualPods == 0
			})

			// Scale from zero on a gRPC call: the activator holds it while the
			// controller scales the Deployment up and the kubelet starts a pod.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			start := time.Now()
			got, err := call(ctx, grpcWho)
			cancel()
			if err != nil || !strings.HasPrefix(got, "via=activator ") {
				t.Fatalf("first call, from zero pods: %q, %v; want via=activator", got, err)
			}
			t.Logf("scale from zero on a gRPC call, through the API server and a new pod: %v", time.Since(start).Round(time.Millisecond))

			// The path settles: the activator stays in it (tbc -1) or leaves it (tbc 0).
			waitFor(t, "calls via="+tc.via, 30*time.Second, func() bool {
				got, err = call(context.Background(), grpcWho)
				if err != nil {
					t.Fatal(err)
				}
				return strings.HasPrefix(got, "via="+tc.via+" ")
			})

			// The deadline reaches the app (grpc-timeout), and a call past it ends
			// with DeadlineExceeded at the deadline, not after the app's 10 s.
			ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
			got, err = call(ctx, grpcWho)
			cancel()
			_, dl, _ := strings.Cut(got, "deadline=")
			if d, perr := time.ParseDuration(dl); err != nil || perr != nil || d <= 0 || d > 5*time.Second {
				t.Errorf("the app saw deadline %q (%v), want within (0, 5s]", dl, err)
			}
			ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
			start = time.Now()
			_, err = call(ctx, grpcSleep+"10s")
			cancel()
			if code := status.Code(err); code != codes.DeadlineExceeded {
				t.Errorf("a 10s call with a 300ms deadline: %v, want DeadlineExceeded", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("a 10s call with a 300ms deadline ended after %v", d)
			}

			// With no deadline of its own, a call is bounded by the revision's
			// timeoutSeconds: DeadlineExceeded from the hop that enforced it (the
			// activator, or the queue proxy), not a 504 read as Unavailable.
			start = time.Now()
			_, err = call(context.Background(), grpcSleep+"20s")
			d := time.Since(start)
			if s := status.Convert(err); s.Code() != codes.DeadlineExceeded || !strings.Contains(s.Message(), "request timeout") {
				t.Errorf("a 20s call on a revision with timeoutSeconds %v: %v, want DeadlineExceeded naming the request timeout", revisionTimeout, err)
			}
			if d < revisionTimeout-time.Second || d > revisionTimeout+10*time.Second {
				t.Errorf("a 20s call on a revision with timeoutSeconds %v ended after %v", revisionTimeout, d)
			}

			// The app's status, header and trailer arrive as it sent them.
			var header, trailer metadata.MD
			_, err = call(context.Background(), grpcUnavailable, grpc.Header(&header), grpc.Trailer(&trailer))
			if s := status.Convert(err); s.Code() != codes.Unavailable || s.Message() != "app: unavailable on purpose" {
				t.Errorf("got %v, want Unavailable \"app: unavailable on purpose\" from the app", err)
			}
			if v := trailer.Get("x-app-trailer"); len(v) != 1 || v[0] != "bye" {
				t.Errorf("trailer x-app-trailer = %q, want [bye]", v)
			}
			if v := header.Get("x-app-header"); len(v) != 1 || v[0] != "h" {
				t.Errorf("header x-app-header = %q, want [h]", v)
			}

			if r := revision(fc.status(t), tc.svc, rev); r == nil || r.ReadyPods < 1 {
				t.Errorf("after its calls: %+v, want a ready pod", r)
			}

			// A 10,000-message bidirectional stream that lives through a scale-up
			// (a second pod, started by the kubelet and ready in its EndpointSlice):
			// each message echoed in order, then status OK. On the -stream Service,
			// from zero pods too, once its path has settled as above.
			ssvc := tc.svc + "-stream"
			sconn, err := grpc.NewClient("passthrough:///"+fc.r.ingress.Addr().String(),
				grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority(ssvc+".default.example.com"))
			if err != nil {
				t.Fatal(err)
			}
			defer sconn.Close()
			waitFor(t, ssvc+" calls via="+tc.via, time.Minute, func() bool {
				got, err := unary(context.Background(), sconn, grpcWho)
				if err != nil {
					t.Fatal(err)
				}
				return strings.HasPrefix(got, "via="+tc.via+" ")
			})
			grpcStreamScaleUp(t, sconn, func() *controller.RevisionStatus { return revision(fc.status(t), ssvc, ssvc+"-00001") })
		})
	}
}
