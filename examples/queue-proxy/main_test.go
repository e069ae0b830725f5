package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/servekit/servekit/examples/internal/testport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

// freePort is a loopback port reserved for the proxy until the test ends: run binds
// the ports its environment names, and a port found free and released before run
// binds it could be taken meanwhile (testport).
func freePort(t *testing.T) string {
	t.Helper()
	return strconv.Itoa(testport.Reserve(t))
}

func TestRunEnvErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"missing", map[string]string{}, "CONTAINER_CONCURRENCY: required but not set"},
		{"malformed", map[string]string{"CONTAINER_CONCURRENCY": "1", "QUEUE_SERVING_PORT": "x", "USER_PORT": "1", "REVISION_TIMEOUT_SECONDS": "1"}, `QUEUE_SERVING_PORT: "x"`},
		{"bad metrics port", map[string]string{"CONTAINER_CONCURRENCY": "1", "QUEUE_SERVING_PORT": "1", "USER_PORT": "1", "REVISION_TIMEOUT_SECONDS": "1", "QUEUE_METRICS_PORT": "nine"}, `QUEUE_METRICS_PORT: "nine"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), func(k string) string { return tc.env[k] }, slog.New(slog.DiscardHandler), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestRunServes(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	defer app.Close()
	env := map[string]string{
		"CONTAINER_CONCURRENCY":       "2",
		"QUEUE_SERVING_PORT":          freePort(t),
		"USER_PORT":                   strconv.Itoa(app.Listener.Addr().(*net.TCPAddr).Port),
		"REVISION_TIMEOUT_SECONDS":    "300",
		"SERVING_POD":                 "pod-a",
		"QUEUE_ADMIN_PORT":            freePort(t),
		"QUEUE_METRICS_PORT":          freePort(t),
		"SERVEKIT_SERVING_HOST":       "127.0.0.1",
		"SERVEKIT_DRAIN_QUIET_PERIOD": "1ms",
		"SERVING_READINESS_PROBE":     `{"tcpSocket":{"port":0},"periodSeconds":1}`,
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [3]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, func(k string) string { return env[k] }, slog.New(slog.DiscardHandler), ready)
	}()
	var addrs [3]string
	select {
	case addrs = <-ready:
	case err := <-done:
		t.Fatalf("run = %v", err)
	}
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	fetch := func(url string, hdr map[string]string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Content-Type"), string(b)
	}
	if code, _, body := fetch("http://"+addrs[0]+"/", nil); code != 200 || body != "hello" {
		t.Errorf("proxied = %d %q, want 200 hello", code, body)
	}
	if code, _, body := fetch("http://"+addrs[0]+"/", map[string]string{"K-Network-Probe": "queue"}); code != 200 || body != "queue" {
		t.Errorf("health probe = %d %q, want 200 queue", code, body)
	}
	code, ct, body := fetch("http://"+addrs[2]+"/metrics", map[string]string{"Accept": "text/plain;version=0.0.4"})
	if code != 200 || !strings.HasPrefix(ct, "text/plain") || !strings.Contains(body, `servekit_queue_request_count{proxied="false",response_code="200",response_code_class="2xx"} 1`) {
		t.Errorf("prometheus /metrics = %d %q:\n%s", code, ct, body)
	}
	for _, name := range []string{"servekit_queue_request_latencies_bucket", "servekit_queue_depth", "servekit_queue_breaker_wait_bucket"} {
		if !strings.Contains(body, name) {
			t.Errorf("prometheus text lacks %s", name)
		}
	}
	if code, ct, _ := fetch("http://"+addrs[2]+"/metrics", map[string]string{"Accept": "application/protobuf"}); code != 200 || ct != "application/protobuf" {
		t.Errorf("autoscaler /metrics = %d %q, want 200 application/protobuf", code, ct)
	}
	if code, _, _ := fetch("http://"+addrs[1]+"/wait-for-drain", nil); code != 200 {
		t.Errorf("/wait-for-drain = %d, want 200", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return")
	}
}

func TestServePprof(t *testing.T) {
	for _, bad := range []string{"6060", "127.0.0.1:x"} {
		if _, _, err := servePprof(bad, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), envPprofAddr) {
			t.Errorf("servePprof(%q) = %v, want an error naming %s", bad, err, envPprofAddr)
		}
	}
	addr, stop, err := servePprof(":0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
		t.Errorf("an empty host bound %s, want 127.0.0.1", addr)
	}
	c := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://" + addr + "/debug/pprof/allocs?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "heap profile") {
		t.Errorf("GET /debug/pprof/allocs = %d %.100q, want 200 and a heap profile", resp.StatusCode, body)
	}
}
