package local

import (
	"context"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler"
)

// TestMaxPodsAcrossRevisions: with MaxPods 3, two revisions asking for 2 pods
// each get 3 processes between them; the fourth pod is listed Pending with the
// reason and no process, and starts once a pod of the other revision has gone
// (issue 17 case 7).
func TestMaxPodsAcrossRevisions(t *testing.T) {
	r, _ := startRuntime(t, Options{MaxPods: 3})
	a := types.NamespacedName{Namespace: "default", Name: "a-00001"}
	b := types.NamespacedName{Namespace: "default", Name: "b-00001"}
	for _, key := range []types.NamespacedName{a, b} {
		if err := r.Apply(testRevision(key.Name, helperContainer("serve"))); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Scale(a, 2); err != nil {
		t.Fatal(err)
	}
	if err := r.Scale(b, 2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 ready pods", 30*time.Second, func() bool { return len(readyPods(r, a))+len(readyPods(r, b)) == 3 })
	var pending []Pod
	for _, key := range []types.NamespacedName{a, b} {
		for _, p := range r.Pods(key) {
			if p.State == PodPending {
				pending = append(pending, p)
			}
		}
	}
	if len(pending) != 1 || pending[0].PID != 0 || !strings.Contains(pending[0].Reason, "limit of 3 pods") {
		t.Fatalf("pending pods = %+v, want one, with no process and a reason naming the limit of 3", pending)
	}
	if !strings.HasPrefix(pending[0].Name, "b-00001-") {
		t.Errorf("pending pod %s, want the last one asked for (of b-00001)", pending[0].Name)
	}
	// The controller sees it through the Backend as runtime.Pod (its /status).
	for _, p := range (Backend{r}).Pods(b) {
		if p.Name == pending[0].Name && (!p.Pending || p.Ready || p.Reason != pending[0].Reason) {
			t.Errorf("Backend pod = %+v, want Pending, not Ready, Reason %q", p, pending[0].Reason)
		}
	}
	// Room frees up when a's pods have gone: b's waiting pod starts.
	if err := r.Scale(a, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b's 2 pods ready", 30*time.Second, func() bool { return len(readyPods(r, b)) == 2 })
	for _, p := range r.Pods(b) {
		if p.State == PodPending {
			t.Errorf("pod %s still pending after a scaled to 0", p.Name)
		}
	}
	// A waiting pod that is no longer wanted is forgotten, not started later.
	if err := r.Scale(a, 3); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a's pod ready", 30*time.Second, func() bool { return len(readyPods(r, a)) == 1 })
	if err := r.Scale(a, 1); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	waiting, running := len(r.mu.waiting), r.mu.running
	r.mu.Unlock()
	if waiting != 0 || running > 3 {
		t.Errorf("after scaling a back to 1: %d waiting, %d running; want 0 waiting, at most 3 running", waiting, running)
	}
}

func TestDefaultLimitsFromCPUCount(t *testing.T) {
	n := goruntime.NumCPU()
	if got := DefaultMaxPods(); got != 16*n {
		t.Errorf("DefaultMaxPods() = %d, want 16 × %d CPUs", got, n)
	}
	if got := DefaultMaxScale(); got != int32(4*n) {
		t.Errorf("DefaultMaxScale() = %d, want 4 × %d CPUs", got, n)
	}
	r, err := New(Options{NewFront: newTestFront})
	if err != nil {
		t.Fatal(err)
	}
	if r.maxPods != DefaultMaxPods() {
		t.Errorf("MaxPods 0: limit %d, want DefaultMaxPods() %d", r.maxPods, DefaultMaxPods())
	}
	if r, _ := New(Options{NewFront: newTestFront, MaxPods: -1}); r.maxPods != 0 {
		t.Errorf("MaxPods -1: limit %d, want none", r.maxPods)
	}
}

func TestBoundScale(t *testing.T) {
	def := DefaultMaxScale()
	for _, tc := range []struct {
		name string
		data map[string]string
		want int32
	}{
		{"Knative's unbounded default becomes the local default", nil, def},
		{"an explicit max-scale is kept", map[string]string{"max-scale": "3"}, 3},
		{"a larger explicit max-scale is kept", map[string]string{"max-scale": "1000"}, 1000},
		{"never below min-scale", map[string]string{"min-scale": "5000"}, 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := autoscaler.ConfigFromMap(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			got := BoundScale(cfg)
			if got.MaxScale != tc.want {
				t.Errorf("MaxScale = %d, want %d", got.MaxScale, tc.want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("bounded config invalid: %v", err)
			}
		})
	}
}

// TestMaxPodsFirstAskedFirstBeforeRun: pods asked for before Run starts are started
// in the order they were asked for, across revisions, so the ones beyond MaxPods are
// the last asked (a map's order decided before).
func TestMaxPodsFirstAskedFirstBeforeRun(t *testing.T) {
	r, err := New(Options{MaxPods: 3, NewFront: newTestFront, TerminationGrace: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var keys []types.NamespacedName
	for i := range 5 {
		key := types.NamespacedName{Namespace: "default", Name: "r" + strconv.Itoa(i) + "-00001"}
		keys = append(keys, key)
		if err := r.Apply(testRevision(key.Name, helperContainer("serve"))); err != nil {
			t.Fatal(err)
		}
		if err := r.Scale(key, 1); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitFor(t, "3 ready pods", 30*time.Second, func() bool {
		n := 0
		for _, key := range keys {
			n += len(readyPods(r, key))
		}
		return n == 3
	})
	for i, key := range keys {
		pods := r.Pods(key)
		pending := len(pods) == 1 && pods[0].State == PodPending
		if want := i >= 3; pending != want {
			t.Errorf("%s: pending %v, want %v (the first 3 asked for run)", key.Name, pending, want)
		}
	}
}
