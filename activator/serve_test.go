package activator

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func TestServeOptionErrors(t *testing.T) {
	ln := listen(t)
	if err := Serve(context.Background(), ServeOptions{Listener: ln}); err == nil || !strings.Contains(err.Error(), "Handler") {
		t.Errorf("no Handler: %v, want an error naming Handler", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("Serve left the listener open")
	}
	busy := listen(t)
	defer busy.Close()
	h := http.NotFoundHandler()
	if err := Serve(context.Background(), ServeOptions{Handler: h, Addr: busy.Addr().String(), AdminAddr: "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "ServeOptions.Addr") {
		t.Errorf("busy Addr: %v, want an error naming Addr", err)
	}
	if err := Serve(context.Background(), ServeOptions{Handler: h, Addr: "127.0.0.1:0", AdminAddr: busy.Addr().String()}); err == nil || !strings.Contains(err.Error(), "ServeOptions.AdminAddr") {
		t.Errorf("busy AdminAddr: %v, want an error naming AdminAddr", err)
	}
}

// TestServeDrain: once ctx ends /healthz fails while traffic is still served during
// DrainDelay; a request held at that moment completes; the Throttler is stopped last.
func TestServeDrain(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/held" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "served")
	})
	th := NewThrottler(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	type addrs struct{ traffic, admin net.Addr }
	ready := make(chan addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ServeOptions{
			Handler: h, Throttler: th, Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
			Metrics:    http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "metrics") }),
			Ready:      func(tr, ad net.Addr) { ready <- addrs{tr, ad} },
			DrainDelay: 200 * time.Millisecond,
		})
	}()
	a := <-ready
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	traffic, admin := "http://"+a.traffic.String(), "http://"+a.admin.String()
	if code, body := get(admin + "/healthz"); code != 200 || body != "ok" {
		t.Errorf("/healthz before shutdown: %d %q", code, body)
	}
	if code, body := get(admin + "/metrics"); code != 200 || body != "metrics" {
		t.Errorf("/metrics: %d %q", code, body)
	}
	held := make(chan string, 1)
	go func() {
		resp, err := client.Get(traffic + "/held")
		if err != nil {
			held <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		held <- string(b)
	}()
	<-entered
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := get(admin + "/healthz"); code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/healthz never turned 503")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if code, body := get(traffic + "/"); code != 200 || body != "served" {
		t.Errorf("traffic during the drain delay: %d %q", code, body)
	}
	close(release)
	if body := <-held; body != "served" {
		t.Errorf("held request: %q", body)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	// Run has returned: a second Run starts.
	rctx, rcancel := context.WithCancel(context.Background())
	rcancel()
	if err := th.Run(rctx); err != nil {
		t.Errorf("Throttler still running after Serve: %v", err)
	}
}

// TestServeServerError: a server that fails ends Serve with its error, without waiting
// for ctx.
func TestServeServerError(t *testing.T) {
	ln := listen(t)
	ln.Close() // Serve fails at once on a closed listener
	err := Serve(context.Background(), ServeOptions{Handler: http.NotFoundHandler(), Listener: ln, AdminAddr: "127.0.0.1:0", DrainDelay: time.Hour})
	if err == nil {
		t.Error("Serve on a closed listener: nil error")
	}
}
