package controller_test

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/runtime"
	v1 "github.com/servekit/servekit/serving/v1"
)

// zeroStart is config-autoscaler with initial scale 0 allowed and the default, so a
// new revision starts with no pods: only traffic (or a peer's report of it) scales it.
func zeroStart() *autoscaler.Config {
	cfg := autoscaler.DefaultConfig()
	cfg.AllowZeroInitialScale = true
	cfg.InitialScale = 0
	return &cfg
}

// scaleRecorder wraps fakeBackend and records every Scale call.
type scaleRecorder struct {
	*fakeBackend
	mu     sync.Mutex
	scales map[types.NamespacedName][]int
}

func (s *scaleRecorder) Scale(key types.NamespacedName, n int) error {
	s.mu.Lock()
	s.scales[key] = append(s.scales[key], n)
	s.mu.Unlock()
	return s.fakeBackend.Scale(key, n)
}

func (s *scaleRecorder) scaled(key types.NamespacedName) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.scales[key]...)
}

// firstRouted sends requests for host until one is routed (not 404) and returns
// that answer.
func firstRouted(t *testing.T, c *controller.Controller, host string) (code int, body string) {
	t.Helper()
	waitFor(t, "a route for "+host, func() bool {
		code, body = serve(c.Handler(), host)
		return code != http.StatusNotFound
	})
	return code, body
}

func TestRecordActivatorStatScalesFromZero(t *testing.T) {
	b := &scaleRecorder{fakeBackend: newFakeBackend(), scales: map[types.NamespacedName][]int{}}
	c, err := controller.New(controller.Options{Backend: b, Autoscaler: zeroStart()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply("hello.yaml", []v1.Object{testService("hello", "example.com/hello")}); err != nil {
		t.Fatal(err)
	}
	run(t, c)
	key := types.NamespacedName{Namespace: "default", Name: "hello-00001"}
	waitFor(t, "the first decision: 0 pods", func() bool { return len(b.scaled(key)) > 0 })
	if got := b.scaled(key); got[0] != 0 {
		t.Fatalf("first scale = %v, want 0 (initial scale 0)", got)
	}
	// Another replica's activator holds a request for the revision: its report is
	// the only sign of demand here, and it must scale the revision from zero.
	waitFor(t, "a scale from zero after a peer's report", func() bool {
		c.RecordActivatorStat("default", "hello-00001", 1, 1)
		s := b.scaled(key)
		return s[len(s)-1] >= 1
	})
	// A report for a revision the controller does not know is dropped.
	c.RecordActivatorStat("default", "nope-00001", 5, 5)
}

func TestOnActivatorStatSeesOwnActivator(t *testing.T) {
	b := newFakeBackend()
	type report struct {
		ns, name string
		conc     float64
	}
	var mu sync.Mutex
	var reports []report
	c, err := controller.New(controller.Options{
		Backend: b,
		// Default target burst capacity (211): the activator stays in the path.
		OnActivatorStat: func(ns, name string, conc, _ float64) {
			mu.Lock()
			reports = append(reports, report{ns, name, conc})
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply("hello.yaml", []v1.Object{testService("hello", "example.com/hello")}); err != nil {
		t.Fatal(err)
	}
	run(t, c)
	// Once routed, requests go through the activator, which reports them.
	if code, body := firstRouted(t, c, "hello.default.example.com"); code != http.StatusOK || body != "rev=hello-00001" {
		t.Fatalf("GET = %d %q, want 200 rev=hello-00001", code, body)
	}
	mu.Lock()
	defer mu.Unlock()
	var seen bool
	for _, r := range reports {
		if r.ns == "default" && r.name == "hello-00001" && r.conc > 0 {
			seen = true
		}
	}
	if !seen {
		t.Errorf("OnActivatorStat reports %v: none for default/hello-00001 with concurrency > 0", reports)
	}
}

func TestUpdateActivators(t *testing.T) {
	c, err := controller.New(controller.Options{Backend: newFakeBackend()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		index, count int
		ok           bool
	}{
		{0, 1, true}, {1, 2, true}, {-1, 3, true}, {2, 2, false}, {0, -1, false},
	} {
		if err := c.UpdateActivators(tc.index, tc.count); (err == nil) != tc.ok {
			t.Errorf("UpdateActivators(%d, %d) = %v, want ok=%v", tc.index, tc.count, err, tc.ok)
		}
	}
}

// fakeAddrs wraps fakeBackend and reports every pod at 10.255.0.1 (unroutable
// here); only Options.DialContext can reach them.
type fakeAddrs struct{ *fakeBackend }

func (f fakeAddrs) Pods(key types.NamespacedName) []runtime.Pod {
	pods := f.fakeBackend.Pods(key)
	for i := range pods {
		_, port, _ := net.SplitHostPort(pods[i].Address)
		pods[i].Address = net.JoinHostPort("10.255.0.1", port)
	}
	return pods
}

func TestDialContextReachesPods(t *testing.T) {
	var dials atomic.Int64
	c, err := controller.New(controller.Options{
		Backend: fakeAddrs{newFakeBackend()},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			var d net.Dialer
			return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply("hello.yaml", []v1.Object{testService("hello", "example.com/hello")}); err != nil {
		t.Fatal(err)
	}
	run(t, c)
	if code, body := firstRouted(t, c, "hello.default.example.com"); code != http.StatusOK || body != "rev=hello-00001" {
		t.Fatalf("GET = %d %q, want 200 rev=hello-00001 through the dialer", code, body)
	}
	if dials.Load() == 0 {
		t.Error("Options.DialContext was never called")
	}
}

// With initial scale 0 the revision is Ready at once with no pod, as in Knative, so
// its route is programmed and the first request scales it from zero.
func TestZeroInitialScaleIsReadyAndScalesOnFirstRequest(t *testing.T) {
	b := &scaleRecorder{fakeBackend: newFakeBackend(), scales: map[types.NamespacedName][]int{}}
	c, err := controller.New(controller.Options{Backend: b, Autoscaler: zeroStart()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply("hello.yaml", []v1.Object{testService("hello", "example.com/hello")}); err != nil {
		t.Fatal(err)
	}
	run(t, c)
	waitFor(t, "hello Ready with no pod", func() bool {
		st := c.Status()
		return len(st.Services) == 1 && st.Services[0].Ready
	})
	key := types.NamespacedName{Namespace: "default", Name: "hello-00001"}
	for _, n := range b.scaled(key) {
		if n != 0 {
			t.Fatalf("scaled to %d before any request (%v)", n, b.scaled(key))
		}
	}
	if code, body := serve(c.Handler(), "hello.default.example.com"); code != http.StatusOK || body != "rev=hello-00001" {
		t.Fatalf("first request = %d %q, want 200 rev=hello-00001 after a scale from zero", code, body)
	}
}
