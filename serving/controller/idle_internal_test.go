package controller

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/servekit/servekit/autoscaler/metrics"
	"github.com/servekit/servekit/serving/runtime"
	v1 "github.com/servekit/servekit/serving/v1"
)

// memBackend keeps each revision's replica count; its pods are ready at once
// and never dialled.
type memBackend struct {
	mu     sync.Mutex
	scale  map[types.NamespacedName]int
	notify func(types.NamespacedName)
}

func (b *memBackend) Run(ctx context.Context, notify func(types.NamespacedName)) error {
	b.mu.Lock()
	b.notify = notify
	b.mu.Unlock()
	<-ctx.Done()
	return nil
}

func (b *memBackend) Apply(*v1.Revision) error { return nil }

func (b *memBackend) Scale(key types.NamespacedName, n int) error {
	b.mu.Lock()
	changed := b.scale[key] != n
	b.scale[key] = n
	notify := b.notify
	b.mu.Unlock()
	if changed && notify != nil {
		notify(key)
	}
	return nil
}

func (b *memBackend) Delete(key types.NamespacedName) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.scale, key)
	return nil
}

func (b *memBackend) Pods(key types.NamespacedName) []runtime.Pod {
	b.mu.Lock()
	defer b.mu.Unlock()
	pods := make([]runtime.Pod, b.scale[key])
	for i := range pods {
		pods[i] = runtime.Pod{Name: fmt.Sprintf("%s-%d", key.Name, i), Address: "127.0.0.1:1", Ready: true}
	}
	return pods
}

func (b *memBackend) Stats(types.NamespacedName, time.Time) []metrics.Stat { return nil }

func idleService(name, image string) *v1.Service {
	return &v1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1.ServiceSpec{ConfigurationSpec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
			Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: image}}}},
		}}},
	}
}

// settledController returns a controller holding n Ready Services, one file each,
// reconciled until nothing is dirty (by calling reconcile, without Run).
func settledController(tb testing.TB, n int, clk *clocktesting.FakeClock) *Controller {
	tb.Helper()
	// No full resync within a test's ticks: it reconciles every object by design.
	c, err := New(Options{Backend: &memBackend{scale: map[types.NamespacedName]int{}}, Clock: clk, FullResyncInterval: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("svc-%04d", i)
		if err := c.Apply(name+".yaml", []v1.Object{idleService(name, "example.com/app")}); err != nil {
			tb.Fatal(err)
		}
	}
	for range 20 {
		c.reconcile()
		if c.reconciledLast() == 0 {
			break
		}
	}
	st := c.Status()
	if len(st.Services) != n {
		tb.Fatalf("%d services, want %d", len(st.Services), n)
	}
	for _, s := range st.Services {
		if !s.Ready {
			tb.Fatalf("service %s not Ready: %s %s", s.Name, s.Reason, s.Message)
		}
	}
	return c
}

// reconciledLast returns how many objects the last reconcile pass reconciled.
func (c *Controller) reconciledLast() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.reconciled
}

// allScaled reports whether the autoscaler has delivered a result for every
// revision (its first tick, on its own goroutine, may take several of ours).
func (c *Controller) allScaled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.mu.state {
		if !st.haveResult {
			return false
		}
	}
	return true
}

// passes returns how many reconcile passes ran.
func (c *Controller) passCount() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.passes
}

// An idle tick reconciles nothing, however many Services there are; a change to
// one Service reconciles its own objects, not the others' (issue 17 case 8: the
// loop compared every route with every configuration and revision each second).
func TestIdleTickReconcilesNothing(t *testing.T) {
	const n = 200
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))
	c := settledController(t, n, clk)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	// Run's first pass is a full resync (every object); then idle ticks.
	waitPasses := func(after uint64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for c.passCount() <= after {
			if time.Now().After(deadline) {
				t.Fatalf("no reconcile pass after %d", after)
			}
			time.Sleep(5 * time.Millisecond) // poll interval of an observed condition
		}
	}
	waitPasses(0)
	for clk.HasWaiters() == false {
		time.Sleep(time.Millisecond) // the ticker is set before the first pass
	}
	// The first passes settle what Run's start changed (the autoscaler's first
	// results, at its first 2s tick); after that, a tick must find nothing to do.
	quiet := 0
	for i := 0; quiet < 3; i++ {
		if i == 30 {
			t.Fatalf("ticks keep reconciling %d objects with %d idle Services", c.reconciledLast(), n)
		}
		p := c.passCount()
		clk.Step(time.Second)
		waitPasses(p)
		if c.reconciledLast() == 0 && c.allScaled() {
			quiet++
		} else {
			quiet = 0
		}
	}
	for i := range 10 {
		p := c.passCount()
		clk.Step(time.Second)
		waitPasses(p)
		if got := c.reconciledLast(); got != 0 {
			t.Errorf("idle tick %d reconciled %d objects, want 0", i, got)
		}
	}

	// A new image for one Service: its Service, Configuration, Route and
	// Revisions, a handful of objects over a few passes, not n.
	p := c.passCount()
	v2 := idleService("svc-0007", "example.com/app:v2")
	if err := c.Apply("svc-0007.yaml", []v1.Object{v2}); err != nil {
		t.Fatal(err)
	}
	waitPasses(p)
	if got := c.reconciledLast(); got == 0 || got > 20 {
		t.Errorf("a change to one of %d Services reconciled %d objects, want 1..20", n, got)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := c.Status().Services[7]
		if st.LatestReadyRevisionName == "svc-0007-00002" && st.Ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("svc-0007 did not move to its second revision: %+v", st)
		}
		time.Sleep(5 * time.Millisecond) // poll interval of an observed condition
	}
}

// BenchmarkIdleTick is one reconcile pass of the resync ticker with 1,000 idle
// Services.
func BenchmarkIdleTick1k(b *testing.B) {
	c := settledController(b, 1000, clocktesting.NewFakeClock(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)))
	b.ReportAllocs()
	for b.Loop() {
		c.reconcile()
	}
	if got := c.reconciledLast(); got != 0 {
		b.Fatalf("idle pass reconciled %d objects", got)
	}
}

// BenchmarkFullResync1k is the periodic full resync with 1,000 Services.
func BenchmarkFullResync1k(b *testing.B) {
	c := settledController(b, 1000, clocktesting.NewFakeClock(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)))
	b.ReportAllocs()
	for b.Loop() {
		c.mu.Lock()
		c.mu.lastFull = time.Time{}
		c.mu.Unlock()
		c.reconcile()
	}
}

// BenchmarkStatus1k is GET /status's Status with 1,000 Services.
func BenchmarkStatus1k(b *testing.B) {
	c := settledController(b, 1000, clocktesting.NewFakeClock(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)))
	b.ReportAllocs()
	for b.Loop() {
		if st := c.Status(); len(st.Services) != 1000 {
			b.Fatal(len(st.Services))
		}
	}
}

// BenchmarkStatusHandler1k is GET /status (Status encoded as JSON) with 1,000
// Services.
func BenchmarkStatusHandler1k(b *testing.B) {
	c := settledController(b, 1000, clocktesting.NewFakeClock(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)))
	h := c.StatusHandler()
	req := httptest.NewRequest(http.MethodGet, "/status", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
