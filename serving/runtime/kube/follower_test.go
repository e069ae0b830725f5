package kube

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/autoscaler/metrics"
	v1 "github.com/servekit/servekit/serving/v1"
)

const testToken = "s3cr3t-peer-token"

var testTokenSecret = &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "servekit-peer-token"}, Key: "token"}

// writes lists the fake's recorded actions that change something, as
// "verb resource[/subresource] namespace/name".
func writes(c *fake.Clientset) []string {
	var out []string
	for _, a := range c.Actions() {
		switch a.GetVerb() {
		case "get", "list", "watch":
			continue
		}
		r := a.GetResource().Resource
		if a.GetSubresource() != "" {
			r += "/" + a.GetSubresource()
		}
		name := ""
		switch a := a.(type) {
		case interface{ GetObject() runtime.Object }: // create and update
			if m, ok := a.GetObject().(metav1.Object); ok {
				name = m.GetName()
			}
		case k8stesting.DeleteAction:
			name = a.GetName()
		}
		out = append(out, fmt.Sprintf("%s %s %s/%s", a.GetVerb(), r, a.GetNamespace(), name))
	}
	return out
}

// replicas is the stored Deployment's replicas, or -1 if it does not exist.
func replicas(c *fake.Clientset, ns, rev string) int {
	d, err := c.AppsV1().Deployments(ns).Get(context.Background(), DeploymentName(rev), metav1.GetOptions{})
	if err != nil {
		return -1
	}
	return int(*d.Spec.Replicas)
}

func exists(t *testing.T, c *fake.Clientset, what, ns, name string) bool {
	t.Helper()
	var err error
	switch what {
	case "deployment":
		_, err = c.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	case "service":
		_, err = c.CoreV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
	case "secret":
		_, err = c.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	default:
		t.Fatalf("unknown kind %s", what)
	}
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("get %s %s/%s: %v", what, ns, name, err)
	}
	return err == nil
}

// revisionNamed is the seed revision renamed (with its own UID).
func revisionNamed(t *testing.T, name string) *v1.Revision {
	rev := seedRevision(t)
	rev.Name = name
	rev.UID = types.UID(name + "-uid")
	return rev
}

// stepUntil steps clk by step and re-checks cond every 10ms, until cond holds or
// 10s have passed: the sync loop's back-off waits on clk.
func stepUntil(t *testing.T, what string, clk *clocktesting.FakeClock, step time.Duration, cond func() bool) {
	t.Helper()
	waitFor(t, what, nil, func() bool {
		if cond() {
			return true
		}
		clk.Step(step)
		return false
	})
}

func TestFollowerWritesNothingUntilLeader(t *testing.T) {
	c := newFakeClient(slice("s1", endpoint("pod-a", "10.1.0.1", ptr(true), nil)))
	clk := clocktesting.NewFakeClock(seedTime)
	fs := &fakeStats{stats: map[string]autoscaler.Stat{"http://10.1.0.1:9090/metrics": {AverageConcurrentRequests: 2, RequestCount: 7}}}
	b := newTestBackend(t, c, func(o *Options) {
		o.Follower, o.Clock, o.StatsClient = true, clk, fs
		o.PeerToken, o.PeerTokenSecret = testToken, testTokenSecret
	})
	rounds := make(chan struct{}, 10)
	b.scrapedHook = func() { rounds <- struct{}{} }

	// As a follower: record, write nothing.
	if err := b.Apply(seedRevision(t)); err != nil {
		t.Fatalf("follower Apply: %v", err)
	}
	for _, n := range []int{3, 5} {
		if err := b.Scale(seedKey, n); err != nil {
			t.Fatalf("follower Scale(%d): %v", n, err)
		}
	}
	gone := revisionNamed(t, "helloworld-go-00002")
	if err := b.Apply(gone); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(types.NamespacedName{Namespace: "default", Name: gone.Name}); err != nil {
		t.Fatalf("follower Delete: %v", err)
	}
	if err := b.Scale(types.NamespacedName{Namespace: "default", Name: "never-applied"}, 1); err == nil {
		t.Error("follower Scale of a revision never applied succeeded")
	}
	bad := seedRevision(t)
	bad.Spec.Containers = nil
	if err := b.Apply(bad); err == nil || !strings.Contains(err.Error(), "spec.containers") {
		t.Errorf("follower Apply of a revision without containers = %v, want the leader's error", err)
	}

	// Pods and Stats work as on the leader.
	run(t, b, nil)
	waitFor(t, "the pod", nil, func() bool { return len(b.Pods(seedKey)) == 1 })
	waitScrapeTicker(t, clk)
	clk.Step(time.Second)
	waitRound(t, rounds)
	want := []metrics.Stat{{PodName: "pod-a", AverageConcurrentRequests: 2, RequestCount: 7}}
	if diff := cmp.Diff(want, b.Stats(seedKey, clk.Now())); diff != "" {
		t.Errorf("follower stats (-want +got):\n%s", diff)
	}
	if w := writes(c); len(w) != 0 {
		t.Fatalf("a follower wrote:\n%s", strings.Join(w, "\n"))
	}

	// The leader creates the children, the Secret, and the last recorded scale.
	b.SetLeader(true)
	waitFor(t, "the deployment at the last recorded scale", nil, func() bool { return replicas(c, "default", seedKey.Name) == 5 })
	if !exists(t, c, "service", "default", "helloworld-go-00001-private") {
		t.Error("no private service after SetLeader(true)")
	}
	s, err := c.CoreV1().Secrets("default").Get(context.Background(), "servekit-peer-token", metav1.GetOptions{})
	if err != nil || string(s.Data["token"]) != testToken {
		t.Errorf("peer-token secret after SetLeader(true) = %v, %v", s, err)
	}
	if exists(t, c, "deployment", "default", DeploymentName(gone.Name)) {
		t.Error("the leader created the children of a revision deleted while a follower")
	}
	// Now Scale writes at once.
	if err := b.Scale(seedKey, 2); err != nil {
		t.Fatalf("leader Scale: %v", err)
	}
	if got := replicas(c, "default", seedKey.Name); got != 2 {
		t.Errorf("replicas after the leader's Scale(2) = %d", got)
	}
	b.SetLeader(true) // already the leader: nothing happens

	// A follower again: recording only.
	b.SetLeader(false)
	before := len(writes(c))
	if err := b.Scale(seedKey, 7); err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(revisionNamed(t, "helloworld-go-00003")); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(seedKey); err != nil {
		t.Fatal(err)
	}
	if w := writes(c)[before:]; len(w) != 0 {
		t.Errorf("a follower again wrote:\n%s", strings.Join(w, "\n"))
	}
	if got := replicas(c, "default", seedKey.Name); got != 2 {
		t.Errorf("replicas after a follower's Scale and Delete = %d, want 2 (untouched)", got)
	}
	if exists(t, c, "deployment", "default", DeploymentName("helloworld-go-00003")) {
		t.Error("a follower created a deployment")
	}
}

func TestSetLeaderRetriesWithBackoff(t *testing.T) {
	tests := []struct {
		name     string
		verb     string
		resource string
		failures int
	}{
		{"deployment create fails twice", "create", "deployments", 2},
		{"service create fails once", "create", "services", 1},
		{"secret get fails three times", "get", "secrets", 3},
		{"scale update fails once", "update", "deployments", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeClient()
			var calls atomic.Int32
			c.PrependReactor(tt.verb, tt.resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
				if tt.verb == "update" && a.GetSubresource() != "scale" {
					return false, nil, nil
				}
				if int(calls.Add(1)) <= tt.failures {
					return true, nil, apierrors.NewServiceUnavailable("etcd is down")
				}
				return false, nil, nil
			})
			clk := clocktesting.NewFakeClock(seedTime)
			var logs syncBuffer
			b := newTestBackend(t, c, func(o *Options) {
				o.Follower, o.Clock = true, clk
				o.PeerToken, o.PeerTokenSecret = testToken, testTokenSecret
				o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			var mu sync.Mutex
			var errs []error
			b.syncedHook = func(_ types.NamespacedName, err error) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			if err := b.Apply(seedRevision(t)); err != nil {
				t.Fatal(err)
			}
			if err := b.Scale(seedKey, 4); err != nil {
				t.Fatal(err)
			}
			run(t, b, nil)
			b.SetLeader(true)
			stepUntil(t, "the deployment at scale 4", clk, syncRetryBase, func() bool { return replicas(c, "default", seedKey.Name) == 4 })

			mu.Lock()
			defer mu.Unlock()
			failed := 0
			for _, err := range errs {
				if err != nil {
					failed++
					if !apierrors.IsServiceUnavailable(err) {
						t.Errorf("sync error %v does not wrap the API error", err)
					}
				}
			}
			if failed != tt.failures {
				t.Errorf("%d failed syncs, want %d (one per injected error)", failed, tt.failures)
			}
			if !strings.Contains(logs.String(), "etcd is down") {
				t.Errorf("the failure was not logged:\n%s", logs.String())
			}
			if strings.Contains(logs.String(), testToken) {
				t.Errorf("the log holds the peer token:\n%s", logs.String())
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSyncRetryBackoff(t *testing.T) {
	rl := syncRetryLimiter()
	got := []time.Duration{}
	for range 9 {
		got = append(got, rl.When(seedKey))
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delays (-want +got):\n%s", diff)
	}
	for range 1000 {
		rl.When(seedKey)
	}
	if d := rl.When(seedKey); d != syncRetryMax {
		t.Errorf("delay after 1000 failures = %v, want %v", d, syncRetryMax)
	}
	rl.Forget(seedKey)
	if d := rl.When(seedKey); d != syncRetryBase {
		t.Errorf("delay after Forget = %v, want %v", d, syncRetryBase)
	}
}

func TestSetLeaderBeforeRun(t *testing.T) {
	c := newFakeClient()
	b := newTestBackend(t, c, func(o *Options) { o.Follower = true })
	if err := b.Apply(seedRevision(t)); err != nil {
		t.Fatal(err)
	}
	if err := b.Scale(seedKey, 2); err != nil {
		t.Fatal(err)
	}
	b.SetLeader(true) // returns at once: the sync runs in Run
	if w := writes(c); len(w) != 0 {
		t.Fatalf("SetLeader wrote before Run:\n%s", strings.Join(w, "\n"))
	}
	run(t, b, nil)
	waitFor(t, "the deployment at scale 2", nil, func() bool { return replicas(c, "default", seedKey.Name) == 2 })
}

// A leader's Scale of a revision recorded while a follower creates its children
// first, without waiting for Run's sync.
func TestLeaderScaleOfARevisionRecordedAsFollower(t *testing.T) {
	c := newFakeClient()
	b := newTestBackend(t, c, func(o *Options) { o.Follower = true })
	if err := b.Apply(seedRevision(t)); err != nil {
		t.Fatal(err)
	}
	b.SetLeader(true)
	if err := b.Scale(seedKey, 3); err != nil {
		t.Fatalf("Scale: %v", err)
	}
	if got := replicas(c, "default", seedKey.Name); got != 3 {
		t.Errorf("replicas = %d, want 3", got)
	}
	if !exists(t, c, "service", "default", "helloworld-go-00001-private") {
		t.Error("no private service")
	}
	// An error creating the children is the caller's.
	c.PrependReactor("create", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	b.SetLeader(false)
	if err := b.Apply(revisionNamed(t, "helloworld-go-00002")); err != nil {
		t.Fatal(err)
	}
	b.SetLeader(true)
	err := b.Scale(types.NamespacedName{Namespace: "default", Name: "helloworld-go-00002"}, 1)
	if !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), "create deployment default/helloworld-go-00002-deployment") {
		t.Errorf("Scale error = %v, want the create error naming the deployment", err)
	}
}

// The children a previous leader made are adopted, and a new leader's scale lands.
func TestNewLeaderAdoptsChildren(t *testing.T) {
	c := newFakeClient()
	old := newTestBackend(t, c, nil)
	if err := old.Apply(seedRevision(t)); err != nil {
		t.Fatal(err)
	}
	if err := old.Scale(seedKey, 6); err != nil {
		t.Fatal(err)
	}
	b := newTestBackend(t, c, func(o *Options) { o.Follower = true })
	if err := b.Apply(seedRevision(t)); err != nil {
		t.Fatal(err)
	}
	if err := b.Scale(seedKey, 1); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var errs []error
	b.syncedHook = func(_ types.NamespacedName, err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	run(t, b, nil)
	b.SetLeader(true)
	waitFor(t, "the new leader's sync", nil, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(errs) > 0
	})
	if got := replicas(c, "default", seedKey.Name); got != 1 {
		t.Errorf("replicas = %d, want the new leader's 1", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]error{nil}, errs, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
		t.Errorf("sync results (-want +got):\n%s", diff)
	}
}

// SetLeader, Apply, Scale and Delete called concurrently: no race, and once the
// Backend is the leader for good the Deployment has the last recorded scale.
func TestSetLeaderConcurrently(t *testing.T) {
	c := newFakeClient()
	b := newTestBackend(t, c, func(o *Options) { o.Follower = true })
	run(t, b, nil)
	if err := b.Apply(seedRevision(t)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 40 {
			b.SetLeader(i%2 == 0)
		}
	})
	wg.Go(func() {
		for n := 1; n <= 40; n++ {
			if err := b.Scale(seedKey, n); err != nil {
				t.Errorf("Scale(%d): %v", n, err)
			}
		}
	})
	wg.Go(func() {
		for i := range 10 {
			key := types.NamespacedName{Namespace: "default", Name: fmt.Sprintf("other-%d", i)}
			if err := b.Apply(revisionNamed(t, key.Name)); err != nil {
				t.Errorf("Apply %s: %v", key, err)
			}
			if err := b.Delete(key); err != nil {
				t.Errorf("Delete %s: %v", key, err)
			}
		}
	})
	wg.Wait()
	b.SetLeader(true)
	waitFor(t, "the last recorded scale", nil, func() bool { return replicas(c, "default", seedKey.Name) == 40 })
}

// Run shuts the sync workqueue down when ctx ends, leaving no goroutine behind, even
// with a revision waiting in its back-off.
func TestRunStopsSyncQueue(t *testing.T) {
	c := newFakeClient()
	c.PrependReactor("create", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	clk := clocktesting.NewFakeClock(seedTime)
	b := newTestBackend(t, c, func(o *Options) { o.Follower, o.Clock = true, clk })
	synced := make(chan error, 10)
	b.syncedHook = func(_ types.NamespacedName, err error) { synced <- err }
	if err := b.Apply(seedRevision(t)); err != nil {
		t.Fatal(err)
	}
	if err := b.Scale(seedKey, 2); err != nil {
		t.Fatal(err)
	}
	before := goleak.IgnoreCurrent()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, nil) }()
	b.SetLeader(true)
	select {
	case err := <-synced:
		if err == nil {
			t.Fatal("the first sync succeeded; want it to fail")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for the first sync")
	}
	cancel() // in the back-off: the retry waits on clk, which never moves
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	goleak.VerifyNone(t, before)
}
