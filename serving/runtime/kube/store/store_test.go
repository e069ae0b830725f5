package store_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	servingruntime "github.com/servekit/servekit/serving/runtime"
	"github.com/servekit/servekit/serving/runtime/kube/store"
	v1 "github.com/servekit/servekit/serving/v1"
)

// fakeController records what the store applies and returns a fixed set of objects.
type fakeController struct {
	mu      sync.Mutex
	applied []string // sources
	deleted []string
	objects servingruntime.Objects
}

func (f *fakeController) Apply(source string, objs []v1.Object) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, source)
	return nil
}
func (f *fakeController) Reject(string, error) {}
func (f *fakeController) Delete(source string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, source)
}
func (f *fakeController) Objects() servingruntime.Objects {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.objects
	return servingruntime.Objects{
		Services:       slices.Clone(o.Services),
		Configurations: slices.Clone(o.Configurations),
		Routes:         slices.Clone(o.Routes),
		Revisions:      slices.Clone(o.Revisions),
	}
}
func (f *fakeController) sources() ([]string, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.applied), slices.Clone(f.deleted)
}

func newFakeDynamic(t testing.TB, objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	t.Helper()
	scheme := runtime.NewScheme()
	lists := map[schema.GroupVersionResource]string{
		store.ServicesGVR: "ServiceList", store.ConfigurationsGVR: "ConfigurationList",
		store.RoutesGVR: "RouteList", store.RevisionsGVR: "RevisionList",
		store.DomainMappingsGVR: "DomainMappingList",
	}
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, lists, objs...)
}

func unstructuredService(t *testing.T, name string, uid types.UID, owner *metav1.OwnerReference) *unstructured.Unstructured {
	t.Helper()
	svc := &v1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: uid, Generation: 1},
		Spec: v1.ServiceSpec{ConfigurationSpec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
			Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "example.com/hello"}}}},
		}}},
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(svc)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	if owner != nil {
		u.SetOwnerReferences([]metav1.OwnerReference{*owner})
	}
	return u
}

// controllerService is the controller's version of the Service: reconciled, with status.
func controllerService(name string) *v1.Service {
	svc := &v1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: "ctrl-uid", Generation: 1}}
	svc.Status.ObservedGeneration = 1
	svc.Status.URL = "http://" + name + ".default.example.com"
	svc.Status.LatestCreatedRevisionName = name + "-00001"
	return svc
}

func runStore(t *testing.T, s *store.Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval of an observed condition
	}
}

// counter counts the actions a reactor saw and fails the first n of them with err.
type counter struct {
	mu    sync.Mutex
	calls int
	fail  int
	err   error
}

func (c *counter) react(k8stesting.Action) (bool, runtime.Object, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.calls <= c.fail {
		return true, nil, c.err
	}
	return false, nil, nil
}

func (c *counter) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

func TestStatusWriteRetriesConflictsAndErrors(t *testing.T) {
	gr := schema.GroupResource{Group: "serving.knative.dev", Resource: "services"}
	for _, tc := range []struct {
		name      string
		err       error
		fail      int
		wantCalls int
	}{
		{"no error", nil, 0, 1},
		{"conflicts retried with a fresh read", apierrors.NewConflict(gr, "hello", nil), 2, 3},
		{"server errors retried through the rate-limited queue", apierrors.NewInternalError(context.DeadlineExceeded), 3, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dyn := newFakeDynamic(t, unstructuredService(t, "hello", "api-uid", nil))
			c := &counter{fail: tc.fail, err: tc.err}
			dyn.PrependReactor("update", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if a.GetSubresource() != "status" {
					return false, nil, nil
				}
				return c.react(a)
			})
			fc := &fakeController{objects: servingruntime.Objects{Services: []*v1.Service{controllerService("hello")}}}
			s, err := store.New(store.Options{Client: dyn, Controller: fc, SyncInterval: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			runStore(t, s)
			waitUntil(t, "status written", func() bool {
				got, err := dyn.Resource(store.ServicesGVR).Namespace("default").Get(context.Background(), "hello", metav1.GetOptions{})
				if err != nil {
					return false
				}
				url, _, _ := unstructured.NestedString(got.Object, "status", "url")
				return url == "http://hello.default.example.com"
			})
			got, _ := dyn.Resource(store.ServicesGVR).Namespace("default").Get(context.Background(), "hello", metav1.GetOptions{})
			gen, _, _ := unstructured.NestedInt64(got.Object, "status", "observedGeneration")
			if gen != 1 {
				t.Errorf("status.observedGeneration = %d, want the API server's 1", gen)
			}
			// Once written, an unchanged status is not written again.
			s.Sync()
			time.Sleep(50 * time.Millisecond) // give a wrong rewrite time to happen; the count must not move
			if n := c.n(); n != tc.wantCalls {
				t.Errorf("status updates = %d, want %d", n, tc.wantCalls)
			}
			applied, _ := fc.sources()
			if diff := cmp.Diff([]string{"kube:services/default/hello"}, applied); diff != "" {
				t.Errorf("applied sources (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChildrenAreNotFedBackAndDeletesReachTheController(t *testing.T) {
	yes := true
	owner := &metav1.OwnerReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "hello", UID: "api-uid", Controller: &yes}
	child := unstructuredService(t, "hello", "cfg-uid", owner)
	child.SetKind("Configuration")
	unstructured.RemoveNestedField(child.Object, "spec", "traffic")
	dyn := newFakeDynamic(t, unstructuredService(t, "hello", "api-uid", nil), child)
	fc := &fakeController{}
	s, err := store.New(store.Options{Client: dyn, Controller: fc, SyncInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runStore(t, s)
	waitUntil(t, "the Service applied", func() bool { a, _ := fc.sources(); return len(a) == 1 })
	if err := dyn.Resource(store.ServicesGVR).Namespace("default").Delete(context.Background(), "hello", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the Service deleted", func() bool { _, d := fc.sources(); return len(d) == 1 })
	applied, deleted := fc.sources()
	if diff := cmp.Diff([]string{"kube:services/default/hello"}, applied); diff != "" {
		t.Errorf("applied (-want +got; the Service's Configuration must not be applied):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"kube:services/default/hello"}, deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
}

func TestChildCreateRetriesAPIErrorsAndOwnsByAPIUID(t *testing.T) {
	dyn := newFakeDynamic(t, unstructuredService(t, "hello", "api-uid", nil))
	c := &counter{fail: 2, err: apierrors.NewServiceUnavailable("etcd is sad")}
	dyn.PrependReactor("create", "configurations", c.react)
	cfg := &v1.Configuration{ObjectMeta: metav1.ObjectMeta{
		Name: "hello", Namespace: "default", UID: "ctrl-cfg", Generation: 1,
		Labels:          map[string]string{"serving.knative.dev/service": "hello"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "hello", UID: "ctrl-uid"}},
	}}
	cfg.OwnerReferences[0].Controller = new(true)
	cfg.Status.ObservedGeneration = 1
	cfg.Status.LatestCreatedRevisionName = "hello-00001"
	fc := &fakeController{objects: servingruntime.Objects{
		Services:       []*v1.Service{controllerService("hello")},
		Configurations: []*v1.Configuration{cfg},
	}}
	s, err := store.New(store.Options{Client: dyn, Controller: fc, SyncInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runStore(t, s)
	var got *unstructured.Unstructured
	waitUntil(t, "the Configuration created with its status", func() bool {
		got, err = dyn.Resource(store.ConfigurationsGVR).Namespace("default").Get(context.Background(), "hello", metav1.GetOptions{})
		if err != nil {
			return false
		}
		name, _, _ := unstructured.NestedString(got.Object, "status", "latestCreatedRevisionName")
		return name == "hello-00001"
	})
	if n := c.n(); n < 3 {
		t.Errorf("create attempts = %d, want at least 3 (two failures retried)", n)
	}
	refs := got.GetOwnerReferences()
	if len(refs) != 1 || refs[0].UID != "api-uid" || refs[0].Kind != "Service" || refs[0].Controller == nil || !*refs[0].Controller {
		t.Errorf("owner references = %+v, want the Service's API UID api-uid as controller", refs)
	}
	if got.GetLabels()["serving.knative.dev/service"] != "hello" {
		t.Errorf("labels = %v", got.GetLabels())
	}

	// The controller drops it (e.g. revision GC): the store deletes what it made.
	fc.mu.Lock()
	fc.objects.Configurations = nil
	fc.mu.Unlock()
	waitUntil(t, "the Configuration deleted", func() bool {
		_, err := dyn.Resource(store.ConfigurationsGVR).Namespace("default").Get(context.Background(), "hello", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}

func TestNewRequiresClientAndController(t *testing.T) {
	if _, err := store.New(store.Options{Controller: &fakeController{}}); err == nil {
		t.Error("New without Client succeeded")
	}
	if _, err := store.New(store.Options{Client: newFakeDynamic(t)}); err == nil {
		t.Error("New without Controller succeeded")
	}
}
