package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/autoscaler/metrics"
	"github.com/servekit/servekit/serving"
	servingruntime "github.com/servekit/servekit/serving/runtime"
)

var (
	deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	seedKey        = types.NamespacedName{Namespace: "default", Name: "helloworld-go-00001"}
)

// newFakeClient is a fake clientset whose Deployments have a working scale
// subresource (the stock fake returns the Deployment itself for it).
func newFakeClient(objs ...runtime.Object) *fake.Clientset {
	c := fake.NewClientset(objs...)
	c.PrependReactor("get", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" {
			return false, nil, nil
		}
		g := a.(k8stesting.GetAction)
		obj, err := c.Tracker().Get(deploymentsGVR, g.GetNamespace(), g.GetName())
		if err != nil {
			return true, nil, err
		}
		d := obj.(*appsv1.Deployment)
		return true, &autoscalingv1.Scale{
			ObjectMeta: metav1.ObjectMeta{Name: d.Name, Namespace: d.Namespace, ResourceVersion: d.ResourceVersion},
			Spec:       autoscalingv1.ScaleSpec{Replicas: *d.Spec.Replicas},
			Status:     autoscalingv1.ScaleStatus{Replicas: d.Status.Replicas},
		}, nil
	})
	c.PrependReactor("update", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" {
			return false, nil, nil
		}
		u := a.(k8stesting.UpdateAction)
		s := u.GetObject().(*autoscalingv1.Scale)
		obj, err := c.Tracker().Get(deploymentsGVR, u.GetNamespace(), s.Name)
		if err != nil {
			return true, nil, err
		}
		d := obj.(*appsv1.Deployment).DeepCopy()
		if s.ResourceVersion != "" && s.ResourceVersion != d.ResourceVersion {
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, s.Name, errors.New("the object has been modified"))
		}
		d.Spec.Replicas = &s.Spec.Replicas
		if err := c.Tracker().Update(deploymentsGVR, d, d.Namespace); err != nil {
			return true, nil, err
		}
		return true, s, nil
	})
	return c
}

func newTestBackend(t *testing.T, c *fake.Clientset, mutate func(*Options)) *Backend {
	t.Helper()
	// Tests never scrape for real: the endpoints they write are not on this machine.
	opts := Options{Client: c, QueueImage: "example.com/servekit/queue-proxy:v1", StatsClient: &fakeStats{}}
	if mutate != nil {
		mutate(&opts)
	}
	b, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}

func getDeployment(t *testing.T, c *fake.Clientset, name string) *appsv1.Deployment {
	t.Helper()
	d, err := c.AppsV1().Deployments("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get deployment %s: %v", name, err)
	}
	return d
}

func TestNewRequiresClientAndImage(t *testing.T) {
	if _, err := New(Options{QueueImage: "q"}); err == nil || !strings.Contains(err.Error(), "Options.Client") {
		t.Errorf("New without Client: %v", err)
	}
	if _, err := New(Options{Client: fake.NewClientset()}); err == nil || !strings.Contains(err.Error(), "Options.QueueImage") {
		t.Errorf("New without QueueImage: %v", err)
	}
}

func TestApplyCreatesDeploymentAndService(t *testing.T) {
	c := newFakeClient()
	b := newTestBackend(t, c, nil)
	rev := seedRevision(t)
	if err := b.Apply(rev); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	want, _ := makeDeployment(rev, b.pc)
	got := getDeployment(t, c, "helloworld-go-00001-deployment")
	if diff := cmp.Diff(want.Spec, got.Spec); diff != "" {
		t.Errorf("stored deployment spec (-want +got):\n%s", diff)
	}
	svc, err := c.CoreV1().Services("default").Get(context.Background(), "helloworld-go-00001-private", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("private service: %v", err)
	}
	if diff := cmp.Diff(makePrivateService(rev).Spec, svc.Spec); diff != "" {
		t.Errorf("stored service spec (-want +got):\n%s", diff)
	}

	// Applying again (a restarted controller) is fine and changes nothing.
	if err := b.Apply(rev); err != nil {
		t.Errorf("second Apply: %v", err)
	}
}

func TestApplyRefusesForeignObjects(t *testing.T) {
	rev := seedRevision(t)
	tests := []struct {
		name    string
		obj     runtime.Object
		wantErr string
	}{{
		name: "deployment of another owner",
		obj: &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{
			Name: "helloworld-go-00001-deployment", Namespace: "default",
			Labels: map[string]string{serving.RevisionLabelKey: "helloworld-go-00001"},
			// (A Revision of the same name as owner would be a deleted one: its
			// children are replaced, TestRealBackend.)
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "serving.knative.dev/v1", Kind: "Revision",
				Name: "another-revision", UID: "old-uid", Controller: ptr(true)}},
		}},
		wantErr: "deployment default/helloworld-go-00001-deployment already exists and does not belong to the revision",
	}, {
		name: "unrelated service",
		obj: &corev1.Service{ObjectMeta: metav1.ObjectMeta{
			Name: "helloworld-go-00001-private", Namespace: "default",
		}},
		wantErr: "service default/helloworld-go-00001-private already exists and does not belong to the revision",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBackend(t, newFakeClient(tt.obj), nil)
			err := b.Apply(rev)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Apply error = %v, want %q", err, tt.wantErr)
			}
			if err := b.Scale(seedKey, 2); err == nil {
				t.Error("Scale succeeded for a revision whose Apply failed")
			}
		})
	}
}

func TestApplySurfacesAPIErrors(t *testing.T) {
	tests := []struct {
		name     string
		verb     string
		resource string
		err      error
		wantErr  string
	}{
		{"forbidden deployment", "create", "deployments", apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "helloworld-go-00001-deployment", errors.New("RBAC says no")),
			`kube: revision default/helloworld-go-00001: create deployment default/helloworld-go-00001-deployment: deployments.apps "helloworld-go-00001-deployment" is forbidden: RBAC says no`},
		{"quota on service", "create", "services", apierrors.NewServiceUnavailable("etcd is down"),
			"kube: revision default/helloworld-go-00001: create service default/helloworld-go-00001-private: etcd is down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeClient()
			c.PrependReactor(tt.verb, tt.resource, func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, tt.err })
			b := newTestBackend(t, c, nil)
			err := b.Apply(seedRevision(t))
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Apply error =\n %v\nwant\n %s", err, tt.wantErr)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("Apply error does not wrap the API error")
			}
		})
	}
}

func TestScale(t *testing.T) {
	c := newFakeClient()
	b := newTestBackend(t, c, nil)
	if err := b.Apply(seedRevision(t)); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{3, 3, 0, 1} {
		if err := b.Scale(seedKey, n); err != nil {
			t.Fatalf("Scale(%d): %v", n, err)
		}
		if got := *getDeployment(t, c, "helloworld-go-00001-deployment").Spec.Replicas; got != int32(n) {
			t.Errorf("after Scale(%d): replicas = %d", n, got)
		}
	}
	// The same scale twice is one write.
	updates := 0
	for _, a := range c.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "scale" {
			updates++
		}
	}
	if updates != 3 {
		t.Errorf("%d scale updates, want 3 (3, 0, 1; the repeated 3 is skipped)", updates)
	}
}

func TestScaleErrors(t *testing.T) {
	conflict := apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, "helloworld-go-00001-deployment", errors.New("the object has been modified"))
	tests := []struct {
		name        string
		conflicts   int // scale updates answered with a conflict before the real one
		replicas    int
		apply       bool
		wantErr     string // "" means success
		wantReplica int32
	}{
		{name: "one conflict is retried", conflicts: 1, replicas: 4, apply: true, wantReplica: 4},
		{name: "conflicts until the retries run out", conflicts: 100, replicas: 4, apply: true,
			wantErr: "kube: scale deployment default/helloworld-go-00001-deployment to 4: Operation cannot be fulfilled"},
		{name: "unknown revision", replicas: 1, wantErr: "kube: scale revision default/helloworld-go-00001: revision not applied"},
		{name: "negative", replicas: -1, apply: true, wantErr: "replicas -1 out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeClient()
			var seen atomic.Int32
			c.PrependReactor("update", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if a.GetSubresource() == "scale" && int(seen.Add(1)) <= tt.conflicts {
					return true, nil, conflict
				}
				return false, nil, nil
			})
			b := newTestBackend(t, c, nil)
			if tt.apply {
				if err := b.Apply(seedRevision(t)); err != nil {
					t.Fatal(err)
				}
			}
			err := b.Scale(seedKey, tt.replicas)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Scale: %v", err)
				}
				if got := *getDeployment(t, c, "helloworld-go-00001-deployment").Spec.Replicas; got != tt.wantReplica {
					t.Errorf("replicas = %d, want %d", got, tt.wantReplica)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Scale error = %v, want %q", err, tt.wantErr)
			}
			if tt.conflicts > 0 && !apierrors.IsConflict(err) {
				t.Errorf("apierrors.IsConflict(%v) = false; callers cannot tell it was a conflict", err)
			}
		})
	}
}

func TestScaleDeploymentGone(t *testing.T) {
	c := newFakeClient()
	b := newTestBackend(t, c, nil)
	if err := b.Apply(seedRevision(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.AppsV1().Deployments("default").Delete(context.Background(), "helloworld-go-00001-deployment", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err := b.Scale(seedKey, 2)
	if err == nil || !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "default/helloworld-go-00001-deployment") {
		t.Errorf("Scale error = %v, want a not-found naming the deployment", err)
	}
}

func TestDelete(t *testing.T) {
	c := newFakeClient()
	b := newTestBackend(t, c, nil)
	if err := b.Apply(seedRevision(t)); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(seedKey); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := c.AppsV1().Deployments("default").Get(context.Background(), "helloworld-go-00001-deployment", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deployment after Delete: %v, want not found", err)
	}
	if _, err := c.CoreV1().Services("default").Get(context.Background(), "helloworld-go-00001-private", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("service after Delete: %v, want not found", err)
	}
	if err := b.Delete(seedKey); err != nil {
		t.Errorf("second Delete: %v, want nil (already gone)", err)
	}
	if err := b.Scale(seedKey, 1); err == nil {
		t.Error("Scale after Delete succeeded")
	}

	// Other API errors are reported.
	c.PrependReactor("delete", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "services"}, "helloworld-go-00001-private", errors.New("no"))
	})
	if err := b.Delete(seedKey); err == nil || !strings.Contains(err.Error(), "kube: delete service default/helloworld-go-00001-private") {
		t.Errorf("Delete error = %v", err)
	}
}

// slice is an EndpointSlice of the seed revision's private Service, as the
// EndpointSlice controller writes it (the Service's labels copied).
func slice(name string, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{
			discoveryv1.LabelServiceName: "helloworld-go-00001-private",
			serving.RevisionLabelKey:     "helloworld-go-00001",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr("http-autometric"), Port: ptr[int32](9090)},
			{Name: ptr("http"), Port: ptr[int32](8012)},
		},
		Endpoints: eps,
	}
}

func endpoint(pod, ip string, ready, terminating *bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{
		Addresses:  []string{ip},
		Conditions: discoveryv1.EndpointConditions{Ready: ready, Terminating: terminating},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: pod},
	}
}

func TestPodsFromSlices(t *testing.T) {
	yes, no := ptr(true), ptr(false)
	tests := []struct {
		name   string
		slices []any
		want   []servingruntime.Pod
	}{
		{"none", nil, nil},
		{"ready, not ready, terminating, unknown", []any{slice("a",
			endpoint("p3", "10.0.0.3", no, yes),
			endpoint("p1", "10.0.0.1", yes, nil),
			endpoint("p2", "10.0.0.2", no, no),
			endpoint("p4", "10.0.0.4", nil, nil),
		)}, []servingruntime.Pod{
			{Name: "p1", Address: "10.0.0.1:8012", Ready: true},
			{Name: "p2", Address: "10.0.0.2:8012"},
			{Name: "p3", Address: "10.0.0.3:8012", Terminating: true},
			{Name: "p4", Address: "10.0.0.4:8012", Ready: true}, // nil ready means ready
		}},
		{"an endpoint in two slices appears once", []any{
			slice("a", endpoint("p1", "10.0.0.1", no, nil)),
			slice("b", endpoint("p1", "10.0.0.1", yes, nil), endpoint("p2", "10.0.0.2", yes, nil)),
		}, []servingruntime.Pod{
			{Name: "p1", Address: "10.0.0.1:8012", Ready: true},
			{Name: "p2", Address: "10.0.0.2:8012", Ready: true},
		}},
		{"IPv6 and no target ref", []any{func() *discoveryv1.EndpointSlice {
			s := slice("v6", discoveryv1.Endpoint{Addresses: []string{"fd00::7"}})
			s.AddressType = discoveryv1.AddressTypeIPv6
			return s
		}()}, []servingruntime.Pod{{Name: "fd00::7", Address: "[fd00::7]:8012", Ready: true}}},
		{"a slice without the traffic port is ignored", []any{func() *discoveryv1.EndpointSlice {
			s := slice("noport", endpoint("p1", "10.0.0.1", yes, nil))
			s.Ports = s.Ports[:1]
			return s
		}()}, nil},
		{"an endpoint without address is ignored", []any{slice("a", discoveryv1.Endpoint{})}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, podsFromSlices(tt.slices)); diff != "" {
				t.Errorf("pods (-want +got):\n%s", diff)
			}
		})
	}
}

// notifications records the keys Run reports.
type notifications struct {
	mu   sync.Mutex
	keys []types.NamespacedName
	ch   chan struct{}
}

func newNotifications() *notifications { return &notifications{ch: make(chan struct{}, 100)} }

func (n *notifications) notify(k types.NamespacedName) {
	n.mu.Lock()
	n.keys = append(n.keys, k)
	n.mu.Unlock()
	select {
	case n.ch <- struct{}{}:
	default:
	}
}

// waitFor waits (up to 10s) until cond holds, re-checking after each notification
// and every 10ms.
func waitFor(t *testing.T, what string, ch <-chan struct{}, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ch:
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// run runs b until the test ends and checks that Run returns nil.
func run(t *testing.T, b *Backend, notify func(types.NamespacedName)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, notify) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitFor(t, "informer sync", nil, b.slices.HasSynced)
}

// TestRunWatchesEndpointSlices: each change to a revision's EndpointSlices is followed
// by a notification for that revision, after which Pods shows the change. The
// consumer is level-triggered, so that is the promise; not one notification per
// change observed in step with Pods: the informer updates its cache (what Pods reads)
// before it calls the handlers, so a test that counted notifications as soon as Pods
// showed a change could count too few (it did, once in ~300 runs under -race), or
// count Run's own notification after the caches synced, which may come late.
func TestRunWatchesEndpointSlices(t *testing.T) {
	c := newFakeClient()
	b := newTestBackend(t, c, func(o *Options) { o.Namespace = "default" })
	if err := b.Apply(seedRevision(t)); err != nil {
		t.Fatal(err)
	}
	n := newNotifications()
	var mu sync.Mutex
	var last []servingruntime.Pod // what Pods showed at the latest notification for seedKey
	notified, count := false, 0
	run(t, b, func(k types.NamespacedName) {
		if k == seedKey {
			pods := b.Pods(k)
			mu.Lock()
			last, notified = pods, true
			count++
			mu.Unlock()
		}
		n.notify(k)
	})
	// seen reports whether the latest notification for seedKey saw pods as want wants.
	seen := func(want func([]servingruntime.Pod) bool) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return notified && want(last)
		}
	}

	// Run notifies each applied revision once its caches have synced (its wait polls,
	// so this may come well after the informer has synced); wait for that one first,
	// so that the ones below are the handlers'.
	waitFor(t, "the notification after the caches synced", n.ch, seen(func(p []servingruntime.Pod) bool { return len(p) == 0 }))

	ctx := context.Background()
	s := slice("helloworld-go-00001-private-x1", endpoint("pod-a", "10.1.0.1", ptr(false), nil))
	if _, err := c.DiscoveryV1().EndpointSlices("default").Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a notification that sees pod-a", n.ch, seen(func(p []servingruntime.Pod) bool { return len(p) == 1 }))
	if got := b.Pods(seedKey)[0]; got.Ready || got.Name != "pod-a" {
		t.Errorf("pod = %+v, want pod-a not ready", got)
	}

	s.Endpoints[0].Conditions.Ready = ptr(true)
	if _, err := c.DiscoveryV1().EndpointSlices("default").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a notification that sees pod-a ready", n.ch, seen(func(p []servingruntime.Pod) bool { return len(p) == 1 && p[0].Ready }))

	// Slices of other services or namespaces are not the revision's.
	other := slice("other", endpoint("pod-z", "10.9.9.9", ptr(true), nil))
	other.Labels[discoveryv1.LabelServiceName] = "something-else"
	mu.Lock()
	before := count
	mu.Unlock()
	if _, err := c.DiscoveryV1().EndpointSlices("default").Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// It carries the revision label, so it is notified as the revision's; its pod
	// is not the revision's all the same.
	waitFor(t, "the notification of the other slice", n.ch, func() bool { mu.Lock(); defer mu.Unlock(); return count > before })
	if got := b.Pods(seedKey); len(got) != 1 || got[0].Name != "pod-a" {
		t.Errorf("pods = %+v, want pod-a alone", got)
	}
	if err := c.DiscoveryV1().EndpointSlices("default").Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a notification that sees no pod", n.ch, seen(func(p []servingruntime.Pod) bool { return len(p) == 0 }))

	n.mu.Lock()
	keys := n.keys
	n.mu.Unlock()
	for _, k := range keys {
		if k != seedKey {
			t.Errorf("notified %v, want only %v", k, seedKey)
		}
	}
}

func TestRunTwice(t *testing.T) {
	b := newTestBackend(t, newFakeClient(), nil)
	run(t, b, nil)
	if err := b.Run(context.Background(), nil); err == nil {
		t.Error("second concurrent Run returned nil")
	}
}

// fakeStats answers scrapes from a table of URL → Stat.
type fakeStats struct {
	mu    sync.Mutex
	stats map[string]autoscaler.Stat
	urls  []string
}

func (f *fakeStats) ScrapeStat(_ context.Context, url string) (autoscaler.Stat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.urls = append(f.urls, url)
	s, ok := f.stats[url]
	if !ok {
		return autoscaler.Stat{}, fmt.Errorf("no pod at %s", url)
	}
	return s, nil
}

func (f *fakeStats) scraped() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.urls)
}

func TestStatsScrapesReadyPods(t *testing.T) {
	c := newFakeClient(slice("s1",
		endpoint("pod-a", "10.1.0.1", ptr(true), nil),
		endpoint("pod-b", "10.1.0.2", ptr(true), nil),
		endpoint("pod-c", "10.1.0.3", ptr(false), nil),       // not ready: not scraped
		endpoint("pod-d", "10.1.0.4", ptr(false), ptr(true)), // terminating: not scraped
	))
	clk := clocktesting.NewFakeClock(seedTime)
	fs := &fakeStats{stats: map[string]autoscaler.Stat{
		"http://10.1.0.1:9090/metrics": {AverageConcurrentRequests: 3, RequestCount: 30, AverageProxiedConcurrentRequests: 1, ProxiedRequestCount: 5},
		// pod-b fails its scrape: it has no stats.
	}}
	b := newTestBackend(t, c, func(o *Options) { o.Clock = clk; o.StatsClient = fs })
	rounds := make(chan struct{}, 10)
	b.scrapedHook = func() { rounds <- struct{}{} }
	if err := b.Apply(seedRevision(t)); err != nil {
		t.Fatal(err)
	}
	run(t, b, nil)
	waitFor(t, "both pods", nil, func() bool { return len(b.Pods(seedKey)) == 4 })
	if got := b.Stats(seedKey, clk.Now()); len(got) != 0 {
		t.Errorf("stats before any scrape = %v", got)
	}

	waitScrapeTicker(t, clk)
	clk.Step(time.Second)
	waitRound(t, rounds)
	want := []metrics.Stat{{PodName: "pod-a", AverageConcurrentRequests: 3, AverageProxiedConcurrentRequests: 1, RequestCount: 30, ProxiedRequestCount: 5}}
	if diff := cmp.Diff(want, b.Stats(seedKey, clk.Now())); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	fs.mu.Lock()
	urls := append([]string(nil), fs.urls...)
	fs.mu.Unlock()
	if diff := cmp.Diff([]string{"http://10.1.0.1:9090/metrics", "http://10.1.0.2:9090/metrics"}, sortedCopy(urls)); diff != "" {
		t.Errorf("scraped URLs (-want +got):\n%s", diff)
	}
	// Stale stats are not reported.
	if got := b.Stats(seedKey, clk.Now().Add(4*time.Second)); len(got) != 0 {
		t.Errorf("stats 4s later = %v, want none (stale)", got)
	}
	if got := b.Stats(types.NamespacedName{Namespace: "default", Name: "other"}, clk.Now()); len(got) != 0 {
		t.Errorf("stats of an unknown revision = %v", got)
	}

	// A deleted revision is no longer scraped.
	if err := b.Delete(seedKey); err != nil {
		t.Fatal(err)
	}
	before := fs.scraped()
	clk.Step(time.Second)
	waitRound(t, rounds)
	if got := b.Stats(seedKey, clk.Now()); len(got) != 0 {
		t.Errorf("stats after Delete = %v", got)
	}
	if fs.scraped() != before {
		t.Errorf("a deleted revision was scraped")
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestMetricsURL(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.1:8012":  "http://10.0.0.1:9090/metrics",
		"[fd00::1]:8013": "http://[fd00::1]:9090/metrics",
		"10.0.0.2":       "http://10.0.0.2:9090/metrics",
	} {
		if got := metricsURL(in); got != want {
			t.Errorf("metricsURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// waitScrapeTicker waits until Run's scrape loop has its ticker on clk, so that
// stepping clk makes a round. Run's other waiter on clk, from its start, is the
// heartbeat ticker of the leader's sync workqueue.
func waitScrapeTicker(t *testing.T, clk *clocktesting.FakeClock) {
	t.Helper()
	waitFor(t, "the scrape ticker", nil, func() bool { return clk.Waiters() >= 2 })
}

func waitRound(t *testing.T, rounds <-chan struct{}) {
	t.Helper()
	select {
	case <-rounds:
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a scrape round")
	}
}

// seedPod is a pod of the seed revision whose user container crashed.
func seedPod(name string, restarts int32) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{serving.RevisionLabelKey: "helloworld-go-00001"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "user-container", Image: "example.com/hello"},
			{Name: "queue-proxy", Image: "example.com/queue"},
		}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
			{Name: "user-container", RestartCount: restarts, LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 2, Reason: "Error", Message: "panic: boom\n", FinishedAt: metav1.NewTime(seedTime),
			}}},
			{Name: "queue-proxy", RestartCount: 5, LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}},
		}},
	}
}

func TestPodRestartsAndLastExit(t *testing.T) {
	c := newFakeClient(slice("s1", endpoint("pod-a", "10.1.0.1", ptr(true), nil), endpoint("pod-b", "10.1.0.2", ptr(true), nil)),
		seedPod("pod-a", 3))
	b := newTestBackend(t, c, nil)
	if err := b.Apply(seedRevision(t)); err != nil {
		t.Fatal(err)
	}
	n := newNotifications()
	run(t, b, n.notify)
	want := []servingruntime.Pod{
		// The queue proxy's restarts and exits are not the app's.
		{Name: "pod-a", Address: "10.1.0.1:8012", Ready: true, Restarts: 3, LastExit: "exit code 2 (Error): panic: boom"},
		{Name: "pod-b", Address: "10.1.0.2:8012", Ready: true}, // no Pod object (yet): no counts
	}
	// The EndpointSlice and Pod informers sync independently: wait for both.
	waitFor(t, "the pods with pod-a's restarts", n.ch, func() bool { return cmp.Equal(want, b.Pods(seedKey)) })
	if diff := cmp.Diff(want, b.Pods(seedKey)); diff != "" {
		t.Errorf("pods (-want +got):\n%s", diff)
	}

	// A restart is reported to the controller.
	n.mu.Lock()
	before := len(n.keys)
	n.mu.Unlock()
	p := seedPod("pod-a", 4)
	if _, err := c.CoreV1().Pods("default").UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a notification of the restart", n.ch, func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		return len(n.keys) > before && n.keys[len(n.keys)-1] == seedKey
	})
	if got := b.Pods(seedKey)[0].Restarts; got != 4 {
		t.Errorf("restarts = %d after the notification, want 4", got)
	}
}
