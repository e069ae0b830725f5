package serve

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sync/errgroup"
)

// TestGoServesAndDrains: both listeners answer; cancelling the context shuts the
// first down (a request in flight is answered first) while the second still answers,
// then the second; nothing outlives Wait.
func TestGoServesAndDrains(t *testing.T) {
	defer goleak.VerifyNone(t)
	started, release := make(chan struct{}), make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		_, _ = io.WriteString(w, "ok")
	})
	var lns []Listener
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, Listener{Handler: slow, Listener: ln})
	}
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	Go(ctx, &g, 10*time.Second, lns...)

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, l := range lns {
		resp, err := client.Get("http://" + l.Listener.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "ok" {
			t.Fatalf("body %q, want ok", body)
		}
	}

	inflight := make(chan error, 1)
	go func() {
		resp, err := client.Get("http://" + lns[0].Listener.Addr().String() + "/slow")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = &statusError{resp.StatusCode}
			}
		}
		inflight <- err
	}()
	<-started
	cancel()
	// The first listener drains: it stops accepting, the second still answers.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", lns[0].Listener.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("first listener still accepting 10 s after cancel")
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := client.Get("http://" + lns[1].Listener.Addr().String() + "/")
	if err != nil {
		t.Fatalf("second listener during the drain: %v", err)
	}
	resp.Body.Close()
	close(release)
	if err := <-inflight; err != nil {
		t.Fatalf("request in flight at shutdown: %v", err)
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if c, err := net.Dial("tcp", lns[1].Listener.Addr().String()); err == nil {
		c.Close()
		t.Fatal("second listener still accepting after Wait")
	}
}

type statusError struct{ code int }

func (e *statusError) Error() string { return http.StatusText(e.code) }
