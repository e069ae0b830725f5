package store_test

import (
	"context"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/servekit/servekit/serving/controller"
	servingruntime "github.com/servekit/servekit/serving/runtime"
	"github.com/servekit/servekit/serving/runtime/kube/store"
)

// countingController forwards to a *controller.Controller and counts the store's
// Objects reads (one per Sync).
type countingController struct {
	*controller.Controller
	mu    sync.Mutex
	reads int
}

func (c *countingController) Objects() servingruntime.Objects {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.Controller.Objects()
}

func (c *countingController) syncs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

// fakeStack runs a real controller (recording backend) and a leader store on a fake
// dynamic client that, as an API server, assigns UIDs to created objects.
func fakeStack(t *testing.T, objs ...runtime.Object) (*dynamicfake.FakeDynamicClient, *countingController, *recBackend, *store.Backend) {
	t.Helper()
	return fakeStackWith(t, nil, objs...)
}

// fakeStackWith is fakeStack with the store's options changed by opts.
func fakeStackWith(t *testing.T, opts func(*store.Options), objs ...runtime.Object) (*dynamicfake.FakeDynamicClient, *countingController, *recBackend, *store.Backend) {
	t.Helper()
	return fakeStackOpts(t, newFakeDynamic(t, objs...), opts)
}

func fakeStackOpts(t *testing.T, dyn *dynamicfake.FakeDynamicClient, opts func(*store.Options)) (*dynamicfake.FakeDynamicClient, *countingController, *recBackend, *store.Backend) {
	t.Helper()
	dyn.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if u, ok := a.(k8stesting.CreateAction).GetObject().(*unstructured.Unstructured); ok && u.GetUID() == "" {
			u.SetUID(types.UID(u.GetKind() + "-" + u.GetName()))
			u.SetGeneration(1)
		}
		return false, nil, nil
	})
	inner := newRecBackend()
	b := store.NewBackend(inner)
	ctrl, err := controller.New(controller.Options{Backend: b, ResyncInterval: 10 * time.Millisecond, SourceGenerations: true})
	if err != nil {
		t.Fatal(err)
	}
	cc := &countingController{Controller: ctrl}
	o := store.Options{Client: dyn, Controller: cc, Backend: b, SyncInterval: 10 * time.Millisecond}
	if opts != nil {
		opts(&o)
	}
	s, err := store.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- ctrl.Run(ctx) }()
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	})
	return dyn, cc, inner, b
}

// readyCondition is the object's Ready condition as written, without its time.
func readyCondition(u *unstructured.Unstructured) map[string]any {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, _ := c.(map[string]any); m["type"] == "Ready" {
			m = maps.Clone(m)
			delete(m, "lastTransitionTime")
			return m
		}
	}
	return nil
}

// updateService replaces the Service's spec.template.spec field with value at the
// given generation (the fake client does not count generations).
func updateService(t *testing.T, dyn dynamic.Interface, gen int64, value any, fields ...string) {
	t.Helper()
	ctx := context.Background()
	cur, err := dyn.Resource(store.ServicesGVR).Namespace("default").Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(cur.Object, value, append([]string{"spec", "template", "spec"}, fields...)...); err != nil {
		t.Fatal(err)
	}
	cur.SetGeneration(gen)
	if _, err := dyn.Resource(store.ServicesGVR).Namespace("default").Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func getService(t *testing.T, dyn dynamic.Interface) *unstructured.Unstructured {
	t.Helper()
	got, err := dyn.Resource(store.ServicesGVR).Namespace("default").Get(context.Background(), "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// statusOf returns the observed generation, latest created revision and Ready
// reason of the API Service.
func statusOf(u *unstructured.Unstructured) (int64, string, string) {
	gen, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	name, _, _ := unstructured.NestedString(u.Object, "status", "latestCreatedRevisionName")
	reason, _ := readyCondition(u)["reason"].(string)
	return gen, name, reason
}

const ccProblem = "Service default/hello: spec.template.spec.containerConcurrency: "

// TestRejectedObjectsGetAStatus: a version the controller rejects (or the store
// cannot convert) gets observedGeneration = its generation and Ready=False
// InvalidSpec with the problems; the previous good version keeps serving and its
// status fields stay; the periodic status write does not overwrite it; a valid
// version clears it.
func TestRejectedObjectsGetAStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		// bad is the field under spec.template.spec and its rejected value.
		bad     []string
		badVal  any
		problem string // the message starts with it
		// fix makes the Service valid again at generation gen, with image.
		fix func(t *testing.T, dyn dynamic.Interface, gen int64, image string)
	}{
		{"semantic validation", []string{"containerConcurrency"}, int64(-1), ccProblem,
			func(t *testing.T, dyn dynamic.Interface, gen int64, _ string) {
				updateService(t, dyn, gen, int64(5), "containerConcurrency")
			}},
		{"not convertible", []string{"containers"}, "not-a-list", "store: services default/hello: ",
			func(t *testing.T, dyn dynamic.Interface, gen int64, image string) {
				updateService(t, dyn, gen, []any{map[string]any{"image": image}}, "containers")
			}},
	} {
		t.Run(tc.name+": rejected at once", func(t *testing.T) {
			svc := unstructuredService(t, "hello", "api-svc", nil)
			if err := unstructured.SetNestedField(svc.Object, tc.badVal, append([]string{"spec", "template", "spec"}, tc.bad...)...); err != nil {
				t.Fatal(err)
			}
			dyn, _, _, _ := fakeStack(t, svc)
			waitUntil(t, "the rejected status", func() bool { _, _, r := statusOf(getService(t, dyn)); return r == "InvalidSpec" })
			got := getService(t, dyn)
			ready := readyCondition(got)
			msg, _ := ready["message"].(string)
			if !strings.HasPrefix(msg, tc.problem) {
				t.Errorf("message = %q, want it to start with %q", msg, tc.problem)
			}
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			want := map[string]any{"observedGeneration": int64(1), "conditions": []any{map[string]any{
				"type": "Ready", "status": "False", "reason": "InvalidSpec", "message": msg,
				"lastTransitionTime": conds[0].(map[string]any)["lastTransitionTime"],
			}}}
			if diff := cmp.Diff(want, got.Object["status"]); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			// Fixed: the status is the controller's.
			tc.fix(t, dyn, 2, "example.com/hello")
			waitUntil(t, "the fixed version's status", func() bool {
				gen, name, reason := statusOf(getService(t, dyn))
				return gen == 2 && name == "hello-00001" && reason != "InvalidSpec"
			})
		})
		t.Run(tc.name+": a bad update of a good Service", func(t *testing.T) {
			dyn, ctrl, _, _ := fakeStack(t, unstructuredService(t, "hello", "api-svc", nil))
			waitUntil(t, "the good status", func() bool {
				gen, name, _ := statusOf(getService(t, dyn))
				return gen == 1 && name == "hello-00001"
			})
			updateService(t, dyn, 2, tc.badVal, tc.bad...)
			waitUntil(t, "the rejected status", func() bool { _, _, r := statusOf(getService(t, dyn)); return r == "InvalidSpec" })
			// Several periodic passes later, still the rejected version's status.
			n := ctrl.syncs()
			waitUntil(t, "five more syncs", func() bool { return ctrl.syncs() >= n+5 })
			got := getService(t, dyn)
			gen, name, reason := statusOf(got)
			if gen != 2 || name != "hello-00001" || reason != "InvalidSpec" {
				t.Errorf("status: observedGeneration %d, latestCreatedRevisionName %q, Ready reason %q; want 2, hello-00001 (kept), InvalidSpec", gen, name, reason)
			}
			if url, _, _ := unstructured.NestedString(got.Object, "status", "url"); url != "http://hello.default.example.com" {
				t.Errorf("status.url = %q, want the good version's kept", url)
			}
			if msg, _ := readyCondition(got)["message"].(string); !strings.HasPrefix(msg, tc.problem) {
				t.Errorf("message = %q, want it to start with %q", msg, tc.problem)
			}
			if errs := ctrl.Status().Errors; len(errs) != 1 {
				t.Errorf("controller errors = %+v, want the rejected source", errs)
			}
			// The previous version still serves: no new Revision.
			if revs := ctrl.Objects().Revisions; len(revs) != 1 || revs[0].Name != "hello-00001" {
				t.Errorf("revisions = %d, want hello-00001 only", len(revs))
			}
			// A valid version clears it.
			tc.fix(t, dyn, 3, "example.com/hello:v2")
			waitUntil(t, "the valid version's status", func() bool {
				gen, name, reason := statusOf(getService(t, dyn))
				return gen == 3 && reason != "InvalidSpec" && name != ""
			})
			if errs := ctrl.Status().Errors; len(errs) != 0 {
				t.Errorf("controller errors after the fix = %+v", errs)
			}
		})
	}
}
