package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// OpenCensus's view worker is process-wide and never stops.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-revision", "a/b=", "-endpoints-file", "x"},
		{"-revision", "a/b=", "-poll-interval", "0s"},
		{"-nope"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q): no error", args)
		}
	}
}

func pod(t *testing.T, name string) (*httptest.Server, string) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("K-Network-Probe") == "queue" {
			io.WriteString(w, "queue")
			return
		}
		io.WriteString(w, name+" "+r.Header.Get("Servekit-Peer-Token"))
	}))
	t.Cleanup(srv.Close)
	return srv, strings.TrimPrefix(srv.URL, "http://")
}

func TestRunWithEndpointsFile(t *testing.T) {
	_, a1 := pod(t, "pod-1")
	_, a2 := pod(t, "pod-2")
	file := filepath.Join(t.TempDir(), "endpoints.yaml")
	write := func(addr string) {
		cfg := "revisions:\n- namespace: default\n  name: hello-00001\n  containerConcurrency: 1\n  timeoutSeconds: 5\n  hosts: [hello.example.com]\n  addresses: [\"" + addr + "\", \"garbage\"]\n"
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(a1)

	ctx, cancel := context.WithCancel(context.Background())
	type listeners struct{ traffic, admin net.Addr }
	ready := make(chan listeners, 1)
	done := make(chan error, 1)
	logs := &strings.Builder{}
	lw := &lockedWriter{w: logs}
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-endpoints-file", file,
			"-poll-interval", "10ms", "-drain-delay", "0s"},
			func(k string) string { return map[string]string{"SERVEKIT_PEER_TOKEN": "tok"}[k] }, lw,
			func(tr, ad net.Addr) { ready <- listeners{tr, ad} })
	}()
	var l listeners
	select {
	case l = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func(url, host string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	traffic := "http://" + l.traffic.String()
	if code, body := get(traffic, "hello.example.com"); code != 200 || body != "pod-1 tok" {
		t.Errorf("via host: %d %q", code, body)
	}
	if code, body := get(traffic, "hello-00001.default.svc.cluster.local"); code != 200 || body != "pod-1 tok" {
		t.Errorf("via service host: %d %q", code, body)
	}
	if code, _ := get(traffic, "other.example.com"); code != 404 {
		t.Errorf("unknown host: %d, want 404", code)
	}
	// The file changes: the next request goes to the new pod.
	write(a2)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, body := get(traffic, "hello.example.com"); body == "pod-2 tok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("new endpoints never used")
		}
		time.Sleep(5 * time.Millisecond)
	}
	admin := "http://" + l.admin.String()
	if code, body := get(admin+"/healthz", ""); code != 200 || body != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if _, body := get(admin+"/metrics", ""); !strings.Contains(body, "activator_queue_wait_ms_count") {
		t.Errorf("/metrics lacks the queue wait histogram:\n%s", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel: %v", err)
	}
	if !strings.Contains(lw.String(), `address=garbage reason="not ip:port"`) {
		t.Errorf("bad address not logged:\n%s", lw.String())
	}
}

func TestRunStatic(t *testing.T) {
	_, a1 := pod(t, "pod-1")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-revision", "default/hello=" + a1, "-drain-delay", "0s"},
			func(string) string { return "" }, io.Discard, func(tr, _ net.Addr) { ready <- tr })
	}()
	addr := <-ready
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr.String(), nil)
	req.Host = "hello.default.svc.cluster.local"
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "pod-1 " {
		t.Errorf("got %d %q", resp.StatusCode, b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}
