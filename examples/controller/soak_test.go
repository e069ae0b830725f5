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
		ready := watchMaxReady(tp)
		// A trickle wakes the revision from zero...
		total += burst(t, tp, host, "/", 2, 1000)
		// ...then a surge of slow requests makes it scale up: at least 4,000 requests,
		// and on until the scale-up is seen (a slow machine may need more than the
		// 3 s the first 4,000 take), within a minute.
		n, scaled := surge(t, tp, host, "/?sleep=30ms", 40, 4000, func() bool { return ready.peek() >= 2 }, time.Minute)
		total += n
		if got := ready.stop(); !scaled || got < 2 {
			t.Errorf("cycle %d: at most %d ready pods under load, want a scale-up to >= 2", cycle, got)
		}
	}
	tp.waitStatus(t, "scale to zero after the soak", time.Minute, podsOf("app", "app-00001", 0))

	// The last 1,000: one warm pod, one of whose requests is killed with its process.
	total += burst(t, tp, host, "/", 1, 1)
	key := types.NamespacedName{Namespace: "default", Name: "app-00001"}
	var pod local.Pod
	waitFor(t, "a ready pod", time.Minute, func() bool {
		for _, p := range tp.p.Runtime().Pods(key) {
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
		for _, p := range tp.p.Runtime().Pods(key) {
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
	// The next requests are all served: the rest of the 10,000, and at least 100.
	total += burst(t, tp, host, "/", 4, max(10000-total, 100))
	t.Logf("%d requests in all", total)
	if total < 10000 {
		t.Errorf("sent %d requests, want at least 10,000", total)
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

// surge sends requests from c clients until at least atLeast have been sent and done
// reports true, or d passes; it fails the test on any non-200 and returns how many
// were sent and whether done held.
func surge(t *testing.T, tp *testPlatform, host, path string, c, atLeast int, done func() bool, d time.Duration) (int, bool) {
	t.Helper()
	var sent, bad atomic.Int64
	var ok atomic.Bool
	var first atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for {
				if n := sent.Load(); n >= int64(atLeast) && (ok.Load() || time.Now().After(deadline)) {
					return
				}
				sent.Add(1)
				code, body, err := tp.get(host, path)
				if err != nil || code != http.StatusOK {
					bad.Add(1)
					first.CompareAndSwap(nil, []any{code, body, err})
				}
				if !ok.Load() && done() {
					ok.Store(true)
				}
			}
		})
	}
	wg.Wait()
	n := sent.Load()
	if b := bad.Load(); b != 0 {
		t.Errorf("%d of %d requests to %s%s failed; first: %v", b, n, host, path, first.Load())
	}
	return int(n), ok.Load()
}

// maxReady is the most ready pods of app-00001 seen since watchMaxReady.
type maxReady struct {
	seen    atomic.Int64
	done    chan struct{}
	stopped sync.WaitGroup
}

// peek returns the most seen so far.
func (m *maxReady) peek() int { return int(m.seen.Load()) }

// stop ends the watch and returns the most seen.
func (m *maxReady) stop() int {
	close(m.done)
	m.stopped.Wait()
	return m.peek()
}

// watchMaxReady polls the ready pods of app-00001 every 100 ms until stop is called.
func watchMaxReady(tp *testPlatform) *maxReady {
	m := &maxReady{done: make(chan struct{})}
	m.stopped.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-m.done:
				return
			case <-tick.C:
			}
			st, err := tp.tryStatus()
			if err != nil {
				continue
			}
			if r := revision(st, "app", "app-00001"); r != nil && int64(r.ReadyPods) > m.seen.Load() {
				m.seen.Store(int64(r.ReadyPods))
			}
		}
	})
	return m
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
