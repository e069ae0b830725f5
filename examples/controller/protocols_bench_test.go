package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/servekit/servekit/examples/internal/testport"
	"github.com/servekit/servekit/serving/controller"
)

// benchService is a Service of the test app held at exactly one pod with the
// activator out of the path (ingress → queue proxy → app); port names the container
// port ("h2c" or "http1") and mode the app (appEnv: "grpc" or "1").
func benchService(name, port, mode string) string {
	return fmt.Sprintf(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: %s
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/min-scale: "1"
        autoscaling.knative.dev/max-scale: "1"
        autoscaling.knative.dev/target-burst-capacity: "0"
    spec:
      containers:
        - image: %s
          ports:
            - name: %s
              containerPort: 8080
          env:
            - name: %s
              value: %q
            - name: TARGET
              value: bench
`, name, testImage, port, appEnv, mode)
}

// startGRPCApp runs the gRPC app as its own process on a loopback port, outside the
// platform, and returns its address.
func startGRPCApp(b *testing.B) string {
	port := strconv.Itoa(testport.Reserve(b)) // the app binds it (see testport)
	addr := net.JoinHostPort("127.0.0.1", port)
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = []string{appEnv + "=grpc", "PORT=" + port}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	return addr
}

// measure runs b.N calls, conc at a time, and reports calls/s and the 99th
// percentile latency.
func measure(b *testing.B, conc int, call func() error) {
	lat := make([]time.Duration, b.N)
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t0 := time.Now()
				if err := call(); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d calls failed; first: %v", n, b.N, firstErr.Load())
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(lat[min(len(lat)-1, (len(lat)*99+99)/100-1)].Microseconds())/1000, "p99-ms")
}

// BenchmarkProtocols measures, side by side in one run, gRPC unary calls straight to
// the gRPC app and through the platform (ingress → queue proxy → app: one pod, the
// activator out of the path), and HTTP GETs through the platform over h2c (client
// and revision) and over HTTP/1.1, at concurrency 10 and 100. Each reports calls/s
// and p99-ms. The numbers of issue 13's closing note come from
//
//	go test -run '^$' -bench BenchmarkProtocols -benchtime 5000x ./examples/controller
func BenchmarkProtocols(b *testing.B) {
	tp := startPlatform(b, map[string]string{
		"grpc.yaml":  benchService("grpc", "h2c", "grpc"),
		"h2c.yaml":   benchService("h2c", "h2c", "1"),
		"http1.yaml": benchService("http1", "http1", "1"),
	}, "")
	for _, svc := range []string{"grpc", "h2c", "http1"} {
		tp.waitStatus(b, svc+" ready, activator out of the path", time.Minute, func(st controller.Status) bool {
			r := revision(st, svc, svc+"-00001")
			return r != nil && r.ReadyPods == 1 && !r.ActivatorInPath
		})
	}
	grpcDirect, err := grpc.NewClient("passthrough:///"+startGRPCApp(b), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer grpcDirect.Close()
	grpcPlatform := tp.dialGRPC(b, "grpc.default.example.com")
	// Both answer before measuring (the direct app may still be starting).
	for _, c := range []*grpc.ClientConn{grpcDirect, grpcPlatform} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := unary(ctx, c, "warm", grpc.WaitForReady(true))
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	httpClient := func(h2c bool) *http.Client {
		tr := &http.Transport{MaxIdleConnsPerHost: 200}
		if h2c {
			tr.Protocols = new(http.Protocols)
			tr.Protocols.SetUnencryptedHTTP2(true)
		}
		b.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	h1c, h2c := httpClient(false), httpClient(true)
	get := func(c *http.Client, host string) func() error {
		return func() error {
			req, err := http.NewRequest(http.MethodGet, "http://"+tp.ingress+"/", nil)
			if err != nil {
				return err
			}
			req.Host = host
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && (resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "Hello bench!")) {
				err = fmt.Errorf("%d %q", resp.StatusCode, body)
			}
			return err
		}
	}
	call := func(c *grpc.ClientConn) func() error {
		return func() error {
			_, err := unary(context.Background(), c, "ping")
			return err
		}
	}
	for _, conc := range []int{10, 100} {
		for _, bc := range []struct {
			name string
			call func() error
		}{
			{"grpc/direct", call(grpcDirect)},
			{"grpc/platform", call(grpcPlatform)},
			{"http/h2c/platform", get(h2c, "h2c.default.example.com")},
			{"http/http1/platform", get(h1c, "http1.default.example.com")},
		} {
			b.Run(fmt.Sprintf("%s/c=%d", bc.name, conc), func(b *testing.B) { measure(b, conc, bc.call) })
		}
	}
}
