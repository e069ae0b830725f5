package activator_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/servekit/servekit/activator"
)

// An autoscaler receives the activator's load through a StatSink. Its arguments are
// plain values, so the autoscaler need not import this package; the first request for
// a cold revision arrives at once as a poke (concurrency 1, count 1).
func ExampleStatSink() {
	got := make(chan string, 1)
	sink := activator.StatSinkFunc(func(namespace, name string, _ time.Time, concurrency, requests float64) {
		got <- fmt.Sprintf("%s/%s concurrency=%v requests=%v", namespace, name, concurrency, requests)
	})
	t := activator.NewThrottler(activator.Options{StatSink: sink})
	key := activator.RevisionKey{Namespace: "default", Name: "hello-00001"}
	if err := t.SetRevision(key, activator.Revision{ContainerConcurrency: 1}); err != nil {
		panic(err)
	}
	// A request for the revision, which has no pod yet: it waits, and pokes.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := t.Try(ctx, key, func(dest string) error { return nil })
	fmt.Println(<-got)
	fmt.Println(err)
	// Output:
	// default/hello-00001 concurrency=1 requests=1
	// context deadline exceeded
}

// The Handler buffers a request until the revision has a ready pod, then forwards it.
func ExampleHandler() {
	// A pod: its queue proxy answers the activator's probe with "queue".
	pod := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("K-Network-Probe") == "queue" {
			io.WriteString(w, "queue")
			return
		}
		fmt.Fprintf(w, "hello from the pod (proxied by %s)", r.Header.Get("K-Proxy-Request"))
	}))
	defer pod.Close()

	key := activator.RevisionKey{Namespace: "default", Name: "hello-00001"}
	t := activator.NewThrottler(activator.Options{PeerToken: "secret"})
	if err := t.SetRevision(key, activator.Revision{ContainerConcurrency: 1, Timeout: 10 * time.Second}); err != nil {
		panic(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- t.Run(ctx) }()
	defer func() { stop(); <-done }()

	h, err := activator.NewHandler(activator.HandlerOptions{
		Throttler: t,
		PeerToken: "secret",
		// The platform knows which revision a request is for; here, every request.
		Resolver: activator.ResolverFunc(func(*http.Request) (activator.RevisionKey, error) { return key, nil }),
	})
	if err != nil {
		panic(err)
	}
	answered := make(chan string)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://hello.example.com/", nil))
		answered <- fmt.Sprint(rec.Code, " ", rec.Body.String())
	}()
	for t.Waiting(key) == 0 { // the request is held: the revision has no pod
		time.Sleep(time.Millisecond)
	}
	// The platform starts a pod and pushes its address.
	if err := t.UpdateEndpoints(key, []string{strings.TrimPrefix(pod.URL, "http://")}); err != nil {
		panic(err)
	}
	fmt.Println(<-answered)
	// Output:
	// 200 hello from the pod (proxied by activator)
}

// Serve runs the activator's traffic and admin servers (loopback by default) until
// its context ends, then drains.
func ExampleServe() {
	t := activator.NewThrottler(activator.Options{})
	h, err := activator.NewHandler(activator.HandlerOptions{Throttler: t, Resolver: activator.KnativeHeaders()})
	if err != nil {
		panic(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	admin := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- activator.Serve(ctx, activator.ServeOptions{
			Handler:   h,
			Throttler: t, // run for as long as Serve, stopped after the drain
			Addr:      "127.0.0.1:0",
			AdminAddr: "127.0.0.1:0",
			Ready:     func(_, a net.Addr) { admin <- "http://" + a.String() },
		})
	}()
	resp, err := http.Get(<-admin + "/healthz")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	fmt.Println(resp.StatusCode, string(body))
	stop()
	fmt.Println(<-done)
	// Output:
	// 200 ok
	// <nil>
}
