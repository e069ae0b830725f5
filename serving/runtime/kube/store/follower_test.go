package store_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/servekit/servekit/autoscaler/metrics"
	servingruntime "github.com/servekit/servekit/serving/runtime"
	"github.com/servekit/servekit/serving/runtime/kube/store"
	v1 "github.com/servekit/servekit/serving/v1"
)

// recBackend records what reaches it through store.Backend; every applied revision
// has one ready pod. applyErr, while set, fails Apply.
type recBackend struct {
	mu       sync.Mutex
	uids     map[types.NamespacedName]types.UID
	applyErr error
	applies  int
}

func newRecBackend() *recBackend { return &recBackend{uids: map[types.NamespacedName]types.UID{}} }

func (b *recBackend) Run(ctx context.Context, _ func(types.NamespacedName)) error {
	<-ctx.Done()
	return nil
}
func (b *recBackend) Apply(rev *v1.Revision) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.applies++
	if b.applyErr != nil {
		return b.applyErr
	}
	b.uids[types.NamespacedName{Namespace: rev.Namespace, Name: rev.Name}] = rev.UID
	return nil
}
func (b *recBackend) Scale(types.NamespacedName, int) error { return nil }
func (b *recBackend) Delete(key types.NamespacedName) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.uids, key)
	return nil
}
func (b *recBackend) Pods(key types.NamespacedName) []servingruntime.Pod {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.uids[key]; !ok {
		return nil
	}
	return []servingruntime.Pod{{Name: key.Name + "-pod", Address: "127.0.0.1:1", Ready: true}}
}
func (b *recBackend) Stats(types.NamespacedName, time.Time) []metrics.Stat { return nil }

// uid is the UID the revision key was applied with, or "".
func (b *recBackend) uid(key types.NamespacedName) types.UID {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.uids[key]
}

func (b *recBackend) setApplyErr(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.applyErr = err
}

func (b *recBackend) applyCalls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.applies
}

// confirmingController is a fakeController that records ConfirmGeneration calls (it
// keeps its Configuration waiting, so the store confirms on every pass) and counts
// the store's Objects reads (one per Sync).
type confirmingController struct {
	*fakeController
	cmu       sync.Mutex
	confirmed []int64
	reads     int
}

func (c *confirmingController) ConfirmGeneration(_ types.NamespacedName, _ *v1.ConfigurationSpec, gen int64) bool {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	c.confirmed = append(c.confirmed, gen)
	return true
}

func (c *confirmingController) Objects() servingruntime.Objects {
	c.cmu.Lock()
	c.reads++
	c.cmu.Unlock()
	return c.fakeController.Objects()
}

func (c *confirmingController) confirmations() []int64 {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	return slices.Clone(c.confirmed)
}

func (c *confirmingController) syncs() int {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	return c.reads
}

// writes lists the write actions the fake client saw, as "verb resource[/subresource]".
func writes(dyn *dynamicfake.FakeDynamicClient) []string {
	var out []string
	for _, a := range dyn.Actions() {
		switch a.GetVerb() {
		case "get", "list", "watch":
			continue
		}
		w := a.GetVerb() + " " + a.GetResource().Resource
		if a.GetSubresource() != "" {
			w += "/" + a.GetSubresource()
		}
		out = append(out, w)
	}
	return out
}

// serviceChildren is the controller's view of a Service hello whose Configuration
// waits for its generation, and its Revision hello-00002 (controller UIDs).
func serviceChildren() (*v1.Configuration, *v1.Revision) {
	yes := true
	cfg := &v1.Configuration{ObjectMeta: metav1.ObjectMeta{
		Name: "hello", Namespace: "default", UID: "ctrl-cfg", Generation: 0,
		Labels:          map[string]string{"serving.knative.dev/service": "hello"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "hello", UID: "ctrl-uid", Controller: &yes}},
	}}
	cfg.Spec.Template.Spec.Containers = []corev1.Container{{Image: "example.com/hello"}}
	rev := &v1.Revision{ObjectMeta: metav1.ObjectMeta{
		Name: "hello-00002", Namespace: "default", UID: "ctrl-rev", Generation: 1,
		Labels:          map[string]string{"serving.knative.dev/configuration": "hello"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "serving.knative.dev/v1", Kind: "Configuration", Name: "hello", UID: "ctrl-cfg", Controller: &yes}},
	}}
	rev.Spec.Containers = cfg.Spec.Template.Spec.Containers
	rev.Status.ObservedGeneration = 1
	return cfg, rev
}

// apiChild is obj as the leader wrote it: owned by the parent's API UID.
func apiChild(t *testing.T, obj runtime.Object, kind string, gen int64, uid, ownerKind string, ownerUID types.UID) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": m["spec"]}}
	u.SetAPIVersion("serving.knative.dev/v1")
	u.SetKind(kind)
	o := obj.(metav1.Object)
	u.SetNamespace(o.GetNamespace())
	u.SetName(o.GetName())
	u.SetGeneration(gen)
	u.SetUID(types.UID(uid))
	yes := true
	u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "serving.knative.dev/v1", Kind: ownerKind, Name: "hello", UID: ownerUID, Controller: &yes}})
	return u
}

// TestFollowerWritesNothing: a follower store writes nothing while the leader's
// children are missing; once they are in the API server (here the test plays the
// leader) it confirms the Configuration's API generation and releases the
// Revision to the backend with the API UID, still writing nothing. SetLeader(true)
// makes it write at once.
func TestFollowerWritesNothing(t *testing.T) {
	dyn := newFakeDynamic(t, unstructuredService(t, "hello", "api-svc", nil))
	cfg, rev := serviceChildren()
	fc := &confirmingController{fakeController: &fakeController{objects: servingruntime.Objects{
		Services:       []*v1.Service{controllerService("hello")},
		Configurations: []*v1.Configuration{cfg},
		Revisions:      []*v1.Revision{rev},
	}}}
	inner := newRecBackend()
	b := store.NewBackend(inner)
	if err := b.Apply(rev); err != nil {
		t.Fatal(err)
	}
	s, err := store.New(store.Options{Client: dyn, Controller: fc, Backend: b, Follower: true, SyncInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runStore(t, s)
	revKey := types.NamespacedName{Namespace: "default", Name: "hello-00002"}

	// Nothing in the API server yet: several passes write, confirm and release nothing.
	waitUntil(t, "three syncs", func() bool { return fc.syncs() >= 3 })
	if got := fc.confirmations(); len(got) != 0 {
		t.Errorf("confirmed %v before the API server held the Configuration", got)
	}
	if uid := inner.uid(revKey); uid != "" {
		t.Errorf("revision released with %q before the API server held it", uid)
	}

	// The leader writes the children.
	ctx := context.Background()
	if _, err := dyn.Resource(store.ConfigurationsGVR).Namespace("default").Create(ctx, apiChild(t, cfg, "Configuration", 2, "api-cfg", "Service", "api-svc"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(store.RevisionsGVR).Namespace("default").Create(ctx, apiChild(t, rev, "Revision", 1, "api-rev", "Configuration", "api-cfg"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "generation confirmed and revision released", func() bool {
		return len(fc.confirmations()) > 0 && inner.uid(revKey) != ""
	})
	if got := fc.confirmations()[0]; got != 2 {
		t.Errorf("confirmed generation %d, want the API server's 2", got)
	}
	if uid := inner.uid(revKey); uid != "api-rev" {
		t.Errorf("revision released with UID %q, want the API server's api-rev", uid)
	}
	// Two more passes over everything (the Configuration is confirmed once a pass).
	n := len(fc.confirmations())
	waitUntil(t, "two more passes", func() bool { return len(fc.confirmations()) >= n+2 })
	// The test's own two creates are the only writes.
	if diff := cmp.Diff([]string{"create configurations", "create revisions"}, writes(dyn)); diff != "" {
		t.Errorf("writes while following (-want +got):\n%s", diff)
	}

	s.SetLeader(true)
	waitUntil(t, "the new leader writes every status", func() bool {
		w := writes(dyn)
		return slices.Contains(w, "update services/status") && slices.Contains(w, "update configurations/status") &&
			slices.Contains(w, "update revisions/status")
	})
	got, err := dyn.Resource(store.ServicesGVR).Namespace("default").Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if name, _, _ := unstructured.NestedString(got.Object, "status", "latestCreatedRevisionName"); name != "hello-00001" {
		t.Errorf("status.latestCreatedRevisionName = %q, want the controller's hello-00001", name)
	}

	s.SetLeader(false)
	before := len(writes(dyn))
	n = len(fc.confirmations())
	waitUntil(t, "two more passes as a follower", func() bool { return len(fc.confirmations()) >= n+2 })
	if after := writes(dyn); len(after) != before {
		t.Errorf("writes after SetLeader(false): %v", after[before:])
	}
}
