package store_test

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/servekit/servekit/serving/runtime/kube/kubetest"
	"github.com/servekit/servekit/serving/runtime/kube/store"
)

// collectGarbage plays Kubernetes' garbage collector once (no
// kube-controller-manager runs in the test server): it deletes every object of
// the default namespace whose controller owner's UID exists no more. A child left
// pointing at a deleted owner is deleted here, as a cluster would delete it.
func collectGarbage(t *testing.T, dyn dynamic.Interface, cs kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	alive := map[types.UID]bool{}
	type child struct {
		meta   metav1.Object
		delete func() error
	}
	var children []child
	for _, gvr := range []struct{ gvr, kind string }{{"services", "Service"}, {"configurations", "Configuration"}, {"routes", "Route"}, {"revisions", "Revision"}} {
		list, err := dyn.Resource(store.ServicesGVR.GroupVersion().WithResource(gvr.gvr)).Namespace("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range list.Items {
			u := &list.Items[i]
			alive[u.GetUID()] = true
			res := gvr.gvr
			children = append(children, child{u, func() error {
				return dyn.Resource(store.ServicesGVR.GroupVersion().WithResource(res)).Namespace("default").Delete(ctx, u.GetName(), metav1.DeleteOptions{})
			}})
		}
	}
	deps, err := cs.AppsV1().Deployments("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range deps.Items {
		d := &deps.Items[i]
		children = append(children, child{d, func() error {
			return cs.AppsV1().Deployments("default").Delete(ctx, d.Name, metav1.DeleteOptions{})
		}})
	}
	svcs, err := cs.CoreV1().Services("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range svcs.Items {
		s := &svcs.Items[i]
		children = append(children, child{s, func() error {
			return cs.CoreV1().Services("default").Delete(ctx, s.Name, metav1.DeleteOptions{})
		}})
	}
	hpas, err := cs.AutoscalingV2().HorizontalPodAutoscalers("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range hpas.Items {
		h := &hpas.Items[i]
		children = append(children, child{h, func() error {
			return cs.AutoscalingV2().HorizontalPodAutoscalers("default").Delete(ctx, h.Name, metav1.DeleteOptions{})
		}})
	}
	for _, c := range children {
		if o := metav1.GetControllerOf(c.meta); o != nil && !alive[o.UID] {
			if err := c.delete(); err != nil && !apierrors.IsNotFound(err) {
				t.Fatalf("gc: delete %s: %v", c.meta.GetName(), err)
			}
		}
	}
}

// TestRealRevisionDeletion: deletion as Knative (issue 15 item 1), with `kubectl
// delete`-equivalent calls and the garbage collector played by the test. A deleted
// older Revision stays deleted, its Deployment and private Service with it; a
// deleted latest Revision is made again as a new object (another UID) with its own
// status and a Deployment owned by the new UID (one owned by the old UID would be
// collected); children left by a Service deleted while no controller ran do not
// block a new Service of the same name.
func TestRealRevisionDeletion(t *testing.T) {
	cfg := kubetest.Start(t)
	kubetest.StartWebhook(t, cfg, nil)
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(cfg)
	cs := kubernetes.NewForConfigOrDie(cfg)
	revs := dyn.Resource(store.RevisionsGVR).Namespace("default")
	_, stop := startStack(t, cfg)
	if _, err := dyn.Resource(store.ServicesGVR).Namespace("default").Create(ctx, seed(t), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deployment := func(name string) (types.UID, bool) {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, name+"-deployment", metav1.GetOptions{})
		if err != nil {
			return "", false
		}
		if o := metav1.GetControllerOf(d); o != nil {
			return o.UID, true
		}
		return "", true
	}
	waitFor(t, "helloworld-go-00001 and its Deployment", func() bool {
		_, ok := deployment("helloworld-go-00001")
		return ok
	})
	setTarget(t, dyn, "two")
	var rev2 *unstructured.Unstructured
	waitFor(t, "helloworld-go-00002 and its Deployment", func() bool {
		rev2, _ = get(ctx, dyn, store.RevisionsGVR, "helloworld-go-00002")
		_, ok := deployment("helloworld-go-00002")
		return rev2 != nil && ok
	})

	t.Run("a deleted older revision stays deleted", func(t *testing.T) {
		if err := revs.Delete(ctx, "helloworld-go-00001", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the Deployment and private Service of -00001 gone", func() bool {
			_, dep := deployment("helloworld-go-00001")
			_, err := cs.CoreV1().Services("default").Get(ctx, "helloworld-go-00001-private", metav1.GetOptions{})
			return !dep && apierrors.IsNotFound(err)
		})
		// Twenty resyncs of the stack: it must not come back.
		for range 20 {
			if _, err := get(ctx, dyn, store.RevisionsGVR, "helloworld-go-00001"); !apierrors.IsNotFound(err) {
				t.Fatalf("helloworld-go-00001 came back (%v)", err)
			}
			time.Sleep(100 * time.Millisecond) // one SyncInterval of the stack
		}
	})

	t.Run("a deleted latest revision is made again, new", func(t *testing.T) {
		old := rev2.GetUID()
		if err := revs.Delete(ctx, "helloworld-go-00002", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		var again *unstructured.Unstructured
		waitFor(t, "a new helloworld-go-00002 with a status and its own Deployment", func() bool {
			collectGarbage(t, dyn, cs)
			again, _ = get(ctx, dyn, store.RevisionsGVR, "helloworld-go-00002")
			if again == nil || again.GetUID() == old {
				return false
			}
			owner, ok := deployment("helloworld-go-00002")
			return condition(again, "Ready") != "" && ok && owner == again.GetUID()
		})
		if gen, _, _ := unstructured.NestedInt64(again.Object, "status", "observedGeneration"); gen != again.GetGeneration() {
			t.Errorf("recreated revision: observedGeneration %d, generation %d", gen, again.GetGeneration())
		}
		// What Kubernetes' garbage collector would do leaves it alone.
		collectGarbage(t, dyn, cs)
		if owner, ok := deployment("helloworld-go-00002"); !ok || owner != again.GetUID() {
			t.Errorf("after garbage collection: Deployment of -00002 exists %v, owner %s; want owned by %s", ok, owner, again.GetUID())
		}
	})

	t.Run("leftovers of a deleted Service do not block a new one", func(t *testing.T) {
		stop() // no controller and no garbage collector: the children stay
		if err := dyn.Resource(store.ServicesGVR).Namespace("default").Delete(ctx, "helloworld-go", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		created, err := dyn.Resource(store.ServicesGVR).Namespace("default").Create(ctx, seed(t), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		startStack(t, cfg)
		waitFor(t, "the new Service's Configuration, Revision -00001 and Deployment, each owned by the new parents", func() bool {
			c, err := get(ctx, dyn, store.ConfigurationsGVR, "helloworld-go")
			if err != nil || metav1.GetControllerOf(c) == nil || metav1.GetControllerOf(c).UID != created.GetUID() {
				return false
			}
			r, err := get(ctx, dyn, store.RevisionsGVR, "helloworld-go-00001")
			if err != nil || metav1.GetControllerOf(r) == nil || metav1.GetControllerOf(r).UID != c.GetUID() {
				return false
			}
			owner, ok := deployment("helloworld-go-00001")
			svc, err := get(ctx, dyn, store.ServicesGVR, "helloworld-go")
			if err != nil {
				return false
			}
			name, _, _ := unstructured.NestedString(svc.Object, "status", "latestCreatedRevisionName")
			return ok && owner == r.GetUID() && name == "helloworld-go-00001"
		})
	})
}
