package main

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/runtime/local"
)

// Soak: 10,000 requests through a ramp that forces scale from zero, scale up and
// scale to zero twice, with no non-2xx answer; then a pod process killed mid-request
// costs at most that request, and the next ones are served.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: skipped with -short")
	}
	// Target burst capacity 0: the activator leaves the path as soon as the revision
	// has pods (SKS Serve mode), so the soak exercises both paths and the switches
	// between them.
	app := strings.Replace(appService("app", "Soak", "10"), "        autoscaling.knative.dev/target: \"10\"\n",
		"        autoscaling.knative.dev/target: \"10\"\n        autoscaling.knative.dev/target-burst-capacity: \"0\"\n", 1)
	tp := startPlatform(t, map[string]string{"app.yaml": app}, fastConfig)
	tp.waitStatus(t, "app Ready", time.Minute, serviceReady("app", "app-00001"))
	const host = "app.default.example.com"

	total := 0
	for cycle := 1; cycle <= 2; cycle++ {
		tp.waitStatus(t, "scale to zero", time.Minute, podsOf("app", "app-00001", 0))
		maxReady := watchMaxReady(tp)
		// A trickle wakes the revision from zero...
		total += burst(t, tp, host, "/", 2, 1000)
		// ...then a surge of slow requests makes it scale up.
		total += burst(t, tp, host, "/?sleep=30ms", 40, 4000)
		if got := maxReady(); got < 2 {
			t.Errorf("cycle %d: at most %d ready pods under load, want a scale-up to >= 2", cycle, got)
		}
	}
	tp.waitStatus(t, "scale to zero after the soak", time.Minute, podsOf("app", "app-00001", 0))

	// The last 1,000: one warm pod, one of whose requests is killed with its process.
	total += burst(t, tp, host, "/", 1, 1)
	key := types.NamespacedName{Namespace: "default", Name: "app-00001"}
	var pod local.Pod
	waitFor(t, "a ready pod", time.Minute, func() bool {
		for _, p := range tp.p.rt.Pods(key) {
			if p.State == local.PodReady && p.PID > 0 {
				pod = p
				return true
			}
		}
		return false
	})
	slow := make(chan int, 1)
	go func() {
		code, _, _ := tp.get(host, "/?sleep=30s")
		slow <- code
	}()
	waitFor(t, "the slow request in the pod", time.Minute, func() bool {
		for _, p := range tp.p.rt.Pods(key) {
			if p.Name == pod.Name && p.InFlight >= 1 {
				return true
			}
		}
		return false
	})
	if err := syscall.Kill(pod.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	code := <-slow
	total++
	t.Logf("the killed request got %d", code)
	tp.waitStatus(t, "the crash observed", time.Minute, func(st controller.Status) bool {
		r := revision(st, "app", "app-00001")
		return r != nil && r.Restarts >= 1
	})
	total += burst(t, tp, host, "/", 4, 10000-total)
	if total != 10000 {
		t.Errorf("sent %d requests, want 10,000", total)
	}
}

// burst sends n requests from c clients and fails the test on any non-200.
func burst(t *testing.T, tp *testPlatform, host, path string, c, n int) int {
	t.Helper()
	var next, bad atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				code, body, err := tp.get(host, path)
				if err != nil || code != http.StatusOK {
					bad.Add(1)
					first.CompareAndSwap(nil, []any{code, body, err})
				}
			}
		})
	}
	wg.Wait()
	if b := bad.Load(); b != 0 {
		t.Errorf("%d of %d requests to %s%s failed; first: %v", b, n, host, path, first.Load())
	}
	return n
}

// watchMaxReady polls the ready pods of app-00001 until the returned function is
// called, which returns the most seen.
func watchMaxReady(tp *testPlatform) func() int {
	stop := make(chan struct{})
	var maxSeen atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			st, err := tp.tryStatus()
			if err != nil {
				continue
			}
			if r := revision(st, "app", "app-00001"); r != nil && int64(r.ReadyPods) > maxSeen.Load() {
				maxSeen.Store(int64(r.ReadyPods))
			}
		}
	})
	return func() int {
		close(stop)
		wg.Wait()
		return int(maxSeen.Load())
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond) // poll interval of an observed condition
	}
}
