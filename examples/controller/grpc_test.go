package main

// gRPC end to end through the platform on the local runtime (issue 13 item 2), with a
// real gRPC client and server: google.golang.org/grpc is imported by test files only.
// The app is this test binary again (appEnv=grpc): a gRPC server with no generated
// code, its two methods described by hand and their messages protobuf's
// StringValue.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/servekit/servekit/serving/controller"
)

// The echo service's methods.
const (
	unaryMethod  = "/servekit.test.Echo/Unary"
	streamMethod = "/servekit.test.Echo/Stream"
)

// Unary requests the gRPC app understands; anything else is echoed.
const (
	// grpcWho answers "via=<activator|direct> deadline=<remaining|none>": whether
	// the call came through the activator (K-Proxy-Request reached the app) and the
	// deadline the app sees (propagated as grpc-timeout).
	grpcWho = "who"
	// grpcUnavailable fails with codes.Unavailable, a header and a trailer.
	grpcUnavailable = "unavailable"
	// grpcSleep ("sleep:<duration>") answers after that long: load for the
	// autoscaler.
	grpcSleep = "sleep:"
)

// grpcAppMain is the gRPC pod program: it speaks HTTP/2 only, as a gRPC server does,
// so any hop that sends it HTTP/1.1 fails the call.
func grpcAppMain() {
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		os.Exit(3)
	}
	srv := grpc.NewServer()
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "servekit.test.Echo",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "Unary", Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			return grpcUnary(ctx, in.Value)
		}}},
		Streams: []grpc.StreamDesc{{StreamName: "Stream", ServerStreams: true, ClientStreams: true, Handler: func(_ any, ss grpc.ServerStream) error {
			for {
				m := new(wrapperspb.StringValue)
				if err := ss.RecvMsg(m); err != nil {
					return nil // io.EOF: the client closed its side
				}
				if err := ss.SendMsg(m); err != nil {
					return err
				}
			}
		}}},
	}, struct{}{})
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		<-c
		t := time.AfterFunc(5*time.Second, srv.Stop)
		srv.GracefulStop()
		t.Stop()
	}()
	_ = srv.Serve(ln)
	os.Exit(0)
}

func grpcUnary(ctx context.Context, v string) (*wrapperspb.StringValue, error) {
	switch {
	case v == grpcWho:
		md, _ := metadata.FromIncomingContext(ctx)
		via := "direct"
		if p := md.Get("k-proxy-request"); len(p) > 0 && p[0] == "activator" {
			via = "activator"
		}
		dl := "none"
		if d, ok := ctx.Deadline(); ok {
			dl = time.Until(d).String()
		}
		return wrapperspb.String("via=" + via + " deadline=" + dl), nil
	case v == grpcUnavailable:
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-app-header", "h"))
		_ = grpc.SetTrailer(ctx, metadata.Pairs("x-app-trailer", "bye"))
		return nil, status.Error(codes.Unavailable, "app: unavailable on purpose")
	case strings.HasPrefix(v, grpcSleep):
		d, err := time.ParseDuration(strings.TrimPrefix(v, grpcSleep))
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return wrapperspb.String("slept"), nil
	}
	return wrapperspb.String(v), nil
}

// grpcService is a Service running the gRPC app: its port is named h2c (Knative's way
// to ask for HTTP/2 end to end), it starts with no pod, scales on a target of 1
// request, and tbc is its target-burst-capacity: "-1" keeps the activator in the
// path, "0" takes it out once a pod is ready.
func grpcService(name, tbc string) string {
	return fmt.Sprintf(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: %s
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/initial-scale: "0"
        autoscaling.knative.dev/target: "1"
        autoscaling.knative.dev/max-scale: "3"
        autoscaling.knative.dev/target-burst-capacity: "%s"
    spec:
      containers:
        - image: %s
          ports:
            - name: h2c
              containerPort: 8080
          env:
            - name: %s
              value: grpc
`, name, tbc, testImage, appEnv)
}

// grpcConfig is fastConfig with revisions allowed to start at zero pods.
const grpcConfig = `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-autoscaler
data:
  stable-window: "6s"
  scale-to-zero-grace-period: "1s"
  allow-zero-initial-scale: "true"
`

// dialGRPC connects a gRPC client to the platform's ingress for host.
func (tp *testPlatform) dialGRPC(t testing.TB, host string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+tp.ingress,
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority(host))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func unary(ctx context.Context, conn *grpc.ClientConn, v string, opts ...grpc.CallOption) (string, error) {
	out := new(wrapperspb.StringValue)
	err := conn.Invoke(ctx, unaryMethod, wrapperspb.String(v), out, opts...)
	return out.GetValue(), err
}

// TestGRPC drives gRPC calls through the platform to a gRPC server behind an h2c
// revision, on both paths: ingress → activator → queue proxy → app ("activator",
// target-burst-capacity -1) and ingress → queue proxy → app ("direct", 0, once the
// first pod is ready). Before issue 13 every call failed: the ingress and the
// activator spoke HTTP/1.1 only.
func TestGRPC(t *testing.T) {
	tp := startPlatform(t, map[string]string{
		"grpc-act.yaml":    grpcService("grpc-act", "-1"),
		"grpc-direct.yaml": grpcService("grpc-direct", "0"),
	}, grpcConfig)
	for _, tc := range []struct{ svc, via string }{{"grpc-act", "activator"}, {"grpc-direct", "direct"}} {
		t.Run(tc.via, func(t *testing.T) {
			t.Parallel() // two Services, independent of each other
			host, rev := tc.svc+".default.example.com", tc.svc+"-00001"
			tp.waitStatus(t, tc.svc+" applied with no pod", time.Minute, func(st controller.Status) bool {
				r := revision(st, tc.svc, rev)
				return r != nil && r.ActualPods == 0
			})
			conn := tp.dialGRPC(t, host)

			// Scale from zero on a gRPC call: the activator holds it while the first
			// pod starts.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			got, err := unary(ctx, conn, grpcWho)
			cancel()
			if err != nil || !strings.HasPrefix(got, "via=activator ") {
				t.Fatalf("first call, from zero pods: %q, %v; want via=activator", got, err)
			}
			if st := tp.status(t); revision(st, tc.svc, rev).ReadyPods < 1 {
				t.Errorf("after the first call: %+v, want a ready pod", revision(st, tc.svc, rev))
			}

			// The path settles: the activator stays in it (tbc -1) or leaves it (tbc 0).
			deadline := time.Now().Add(30 * time.Second)
			for !strings.HasPrefix(got, "via="+tc.via+" ") {
				if time.Now().After(deadline) {
					t.Fatalf("calls still answer %q after 30s, want via=%s", got, tc.via)
				}
				time.Sleep(50 * time.Millisecond) // poll interval of an observed condition
				if got, err = unary(context.Background(), conn, grpcWho); err != nil {
					t.Fatal(err)
				}
			}

			t.Run("deadline propagated", func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				got, err := unary(ctx, conn, grpcWho)
				if err != nil {
					t.Fatal(err)
				}
				_, dl, _ := strings.Cut(got, "deadline=")
				if d, err := time.ParseDuration(dl); err != nil || d <= 0 || d > 5*time.Second {
					t.Errorf("the app saw deadline %q, want within (0, 5s]", dl)
				}
				ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
				defer cancel()
				// The client's and the app's copies of the deadline race: when the
				// app's ends the stream first (RST_STREAM CANCEL) before any
				// response, the hop in between answers with a gRPC status,
				// DeadlineExceeded since the call's grpc-timeout has passed (it
				// answered 502 before, which the client read as Unavailable).
				// Either way the call must end at its deadline, not after the
				// app's 10 s.
				start := time.Now()
				_, err = unary(ctx, conn, grpcSleep+"10s")
				if code := status.Code(err); code != codes.DeadlineExceeded {
					t.Errorf("a 10s call with a 300ms deadline: %v, want DeadlineExceeded", err)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("a 10s call with a 300ms deadline ended after %v", d)
				}
			})

			t.Run("status and trailers", func(t *testing.T) {
				var header, trailer metadata.MD
				_, err := unary(context.Background(), conn, grpcUnavailable, grpc.Header(&header), grpc.Trailer(&trailer))
				if s := status.Convert(err); s.Code() != codes.Unavailable || s.Message() != "app: unavailable on purpose" {
					t.Errorf("got %v, want Unavailable \"app: unavailable on purpose\" from the app", err)
				}
				if v := trailer.Get("x-app-trailer"); len(v) != 1 || v[0] != "bye" {
					t.Errorf("trailer x-app-trailer = %q, want [bye]", v)
				}
				if v := header.Get("x-app-header"); len(v) != 1 || v[0] != "h" {
					t.Errorf("header x-app-header = %q, want [h]", v)
				}
			})

			t.Run("bidirectional stream survives a scale-up", func(t *testing.T) {
				grpcStreamScaleUp(t, conn, func() *controller.RevisionStatus { return revision(tp.status(t), tc.svc, rev) })
			})
		})
	}
}

// grpcStreamScaleUp sends 10,000 messages on one bidirectional stream and reads each
// echo. Halfway it adds load until the revision has a second ready pod, so the stream
// lives through a scale-up; every echo must arrive, in order, and the stream end OK.
// rev reads the revision's status (nil before it exists): the platform's, local or
// cluster.
func grpcStreamScaleUp(t *testing.T, conn *grpc.ClientConn, rev func() *controller.RevisionStatus) {
	const messages = 10000
	// Start from one ready pod, so that the second one comes while the stream is
	// open (the calls before may have left a second one, which then goes).
	waitFor(t, "one ready pod before the stream", time.Minute, func() bool {
		r := rev()
		return r != nil && r.ReadyPods == 1 && r.ActualPods == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, streamMethod)
	if err != nil {
		t.Fatal(err)
	}
	for i := range messages {
		if i == messages/2 {
			// The stream counts as one request; 4 more sleeping calls at a time on a
			// target of 1 make the autoscaler add pods.
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var loadErr atomic.Value
			for range 4 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						if _, err := unary(ctx, conn, grpcSleep+"200ms"); err != nil {
							loadErr.CompareAndSwap(nil, err)
						}
					}
				})
			}
			start := time.Now()
			waitFor(t, "a second ready pod under load", time.Minute, func() bool {
				r := rev()
				return r != nil && r.ReadyPods >= 2
			})
			t.Logf("one ready pod when the stream opened, a second one at message %d (%v after the extra load began)", i, time.Since(start).Round(time.Millisecond))
			close(stop)
			wg.Wait()
			if err, _ := loadErr.Load().(error); err != nil {
				t.Errorf("a call of the load failed: %v", err)
			}
		}
		want := "m" + strconv.Itoa(i)
		if err := s.SendMsg(wrapperspb.String(want)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		got := new(wrapperspb.StringValue)
		if err := s.RecvMsg(got); err != nil {
			t.Fatalf("receive %d: %v", i, err)
		}
		if got.Value != want {
			t.Fatalf("echo %d = %q, want %q", i, got.Value, want)
		}
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if err := s.RecvMsg(new(wrapperspb.StringValue)); !errors.Is(err, io.EOF) {
		t.Errorf("end of stream: %v, want io.EOF (status OK)", err)
	}
}

// TestGRPCIdleStreamsHoldScale: an open gRPC stream counts as one request for its
// whole life, idle or not (issue 13 item 4). Twenty idle streams on a revision with
// containerConcurrency 10 and a target of 10 (at 100% utilization) scale it to two
// pods, and it stays at two while they are open, past a whole stable window.
func TestGRPCIdleStreamsHoldScale(t *testing.T) {
	const streams = 20
	tp := startPlatform(t, map[string]string{"streams.yaml": fmt.Sprintf(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: streams
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/target: "10"
        autoscaling.knative.dev/target-utilization-percentage: "100"
        autoscaling.knative.dev/max-scale: "4"
    spec:
      containerConcurrency: 10
      containers:
        - image: %s
          ports:
            - name: h2c
              containerPort: 8080
          env:
            - name: %s
              value: grpc
`, testImage, appEnv)}, fastConfig)
	tp.waitStatus(t, "streams Ready", time.Minute, serviceReady("streams", "streams-00001"))
	conn := tp.dialGRPC(t, "streams.default.example.com")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Each stream sends one message and waits for its echo (the ten beyond the
	// first pod's capacity wait in the activator for the second), then idles.
	errs := make(chan error, streams)
	for i := range streams {
		go func() {
			s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, streamMethod)
			if err == nil {
				err = s.SendMsg(wrapperspb.String(strconv.Itoa(i)))
			}
			if err == nil {
				err = s.RecvMsg(new(wrapperspb.StringValue))
			}
			errs <- err
		}()
	}
	deadline := time.After(time.Minute)
	for range streams {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatalf("a stream failed: %v", err)
			}
		case <-deadline:
			t.Fatalf("not every stream was answered within a minute: %+v", revision(tp.status(t), "streams", "streams-00001"))
		}
	}
	tp.waitStatus(t, "two ready pods", time.Minute, func(st controller.Status) bool {
		r := revision(st, "streams", "streams-00001")
		return r != nil && r.ReadyPods == 2
	})
	// Past a whole stable window (6 s) with no traffic but the open streams, the
	// revision neither scales down nor up.
	for end := time.Now().Add(8 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if r := revision(tp.status(t), "streams", "streams-00001"); r == nil || r.DesiredScale != 2 || r.ActualPods != 2 {
			t.Fatalf("with %d idle streams open: %+v, want 2 pods desired and running", streams, r)
		}
	}
}
