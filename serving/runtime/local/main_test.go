package local

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/servekit/servekit/autoscaler/metrics"
)

// helperEnv makes the test binary act as a pod's program (see helperMain).
const helperEnv = "SERVEKIT_LOCAL_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		helperMain(mode)
		return
	}
	goleak.VerifyTestMain(m)
}

// helperMain is the pod program used by the tests:
//   - "serve": answers every request with its Knative env vars; /slow?d=... waits.
//   - "crash": exits with status 3 at once.
//   - "burn": serves, and keeps a CPU busy while the file $BURN exists.
//   - "fork": starts a grandchild (sleep) whose pid it writes to $PIDFILE, then serves.
func helperMain(mode string) {
	switch mode {
	case "crash":
		os.Exit(3)
	case "burn":
		go burnWhileFileExists(os.Getenv("BURN"))
	case "fork":
		c := exec.Command("sleep", "1000")
		if err := c.Start(); err != nil {
			os.Exit(4)
		}
		if err := os.WriteFile(os.Getenv("PIDFILE"), []byte(fmt.Sprint(c.Process.Pid)), 0o644); err != nil {
			os.Exit(5)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		os.Exit(6)
	}
	if mode == "grpc" {
		// A gRPC health server over cleartext HTTP/2: NOT_SERVING while $UNHEALTHY exists.
		srv := &http.Server{ReadHeaderTimeout: time.Second, Protocols: new(http.Protocols),
			Handler: grpcHealthHandler(func() bool {
				_, err := os.Stat(os.Getenv("UNHEALTHY"))
				return err != nil
			})}
		srv.Protocols.SetUnencryptedHTTP2(true)
		_ = srv.Serve(ln)
		os.Exit(0)
	}
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Health endpoints for the probe tests: /healthz fails while the file
		// $UNHEALTHY exists, /startz until the file $STARTED exists.
		switch r.URL.Path {
		case "/healthz":
			if _, err := os.Stat(os.Getenv("UNHEALTHY")); err == nil {
				http.Error(w, "unhealthy", http.StatusInternalServerError)
				return
			}
		case "/startz":
			if _, err := os.Stat(os.Getenv("STARTED")); err != nil {
				http.Error(w, "starting", http.StatusServiceUnavailable)
				return
			}
		}
		if d, err := time.ParseDuration(r.URL.Query().Get("d")); err == nil {
			time.Sleep(d) // the slow request a drain must wait for
		}
		fmt.Fprintf(w, "K_SERVICE=%s K_CONFIGURATION=%s K_REVISION=%s TARGET=%s\n",
			os.Getenv("K_SERVICE"), os.Getenv("K_CONFIGURATION"), os.Getenv("K_REVISION"), os.Getenv("TARGET"))
	})}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		<-sig
		_ = srv.Shutdown(context.Background())
	}()
	_ = srv.Serve(ln)
	os.Exit(0)
}

// burnWhileFileExists keeps a CPU busy while the file exists (the HPA tests' load).
func burnWhileFileExists(path string) {
	for {
		if _, err := os.Stat(path); err != nil {
			time.Sleep(100 * time.Millisecond) // idle: check again later
			continue
		}
		for end := time.Now().Add(20 * time.Millisecond); time.Now().Before(end); {
		}
	}
}

// grpcHealthHandler serves grpc.health.v1.Health/Check as a gRPC server does
// (length-prefixed protobuf messages, grpc-status in the trailers) for the
// services "" and "svc": SERVING while serving() holds, else NOT_SERVING; any other
// service is NOT_FOUND (code 5), answered trailers-only.
func grpcHealthHandler(serving func() bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/grpc.health.v1.Health/Check" || r.Header.Get("Content-Type") != "application/grpc" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil || len(body) < 5 {
			http.Error(w, "bad frame", http.StatusBadRequest)
			return
		}
		service := ""
		for b := body[5:]; len(b) > 0; {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				break
			}
			b = b[n:]
			if num == 1 && typ == protowire.BytesType {
				v, n := protowire.ConsumeString(b)
				if n < 0 {
					break
				}
				service, b = v, b[n:]
				continue
			}
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				break
			}
			b = b[n:]
		}
		w.Header().Set("Content-Type", "application/grpc")
		if service != "" && service != "svc" {
			w.Header().Set("Grpc-Status", "5")
			w.Header().Set("Grpc-Message", "unknown service")
			return
		}
		status := uint64(1) // SERVING
		if !serving() {
			status = 2 // NOT_SERVING
		}
		msg := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), status)
		frame := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg)))
		_, _ = w.Write(append(frame, msg...))
		w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
	})
}

// testFront is a minimal Front for these tests: a reverse proxy that counts what is
// in flight, a TCP readiness probe, and a drain that waits for in-flight requests.
type testFront struct {
	handler  http.Handler
	addr     string
	inFlight atomic.Int64
	requests atomic.Int64
}

func newTestFront(cfg FrontConfig) (Front, error) {
	u, err := url.Parse("http://" + cfg.UserAddr)
	if err != nil {
		return nil, err
	}
	f := &testFront{addr: cfg.UserAddr}
	rp := httputil.NewSingleHostReverseProxy(u)
	f.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.inFlight.Add(1)
		f.requests.Add(1)
		defer f.inFlight.Add(-1)
		rp.ServeHTTP(w, r)
	})
	return f, nil
}

func (f *testFront) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: f.handler, ReadHeaderTimeout: time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	<-ctx.Done()
	err := srv.Shutdown(context.Background())
	<-done
	return err
}

func (f *testFront) Ready(ctx context.Context) bool {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", f.addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func (f *testFront) Stats(time.Time) metrics.Stat {
	return metrics.Stat{AverageConcurrentRequests: float64(f.inFlight.Load()), RequestCount: float64(f.requests.Load())}
}

func (f *testFront) InFlight() int { return int(f.inFlight.Load()) }

func (f *testFront) Drain(ctx context.Context) error {
	for f.inFlight.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// processGone reports whether pid no longer runs (gone, or a zombie nobody reaped).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state is the field after the parenthesised command name.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'Z' || s[i+2] == 'X'
	}
	return false
}
