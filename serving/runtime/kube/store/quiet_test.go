package store_test

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/servekit/servekit/serving/runtime/kube/kubetest"
	"github.com/servekit/servekit/serving/runtime/kube/store"
)

// statusWrites watches the four serving resources of namespace default and records
// every status change that reaches a watcher (what `kubectl get -w` and `kn` see).
type statusWrites struct {
	mu     sync.Mutex
	writes map[string][]statusWrite // by "<Kind>/<name>"
}

// statusWrite is one status change: real when something other than a condition's
// lastTransitionTime changed.
type statusWrite struct {
	at   time.Time
	real bool
	diff string
}

func watchStatusWrites(t *testing.T, dyn dynamic.Interface) *statusWrites {
	t.Helper()
	w := &statusWrites{writes: map[string][]statusWrite{}}
	ctx, cancel := context.WithCancel(context.Background())
	f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, "default", nil)
	for _, gvr := range []schema.GroupVersionResource{store.ServicesGVR, store.ConfigurationsGVR, store.RoutesGVR, store.RevisionsGVR} {
		if _, err := f.ForResource(gvr).Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			UpdateFunc: func(oldObj, newObj any) {
				o, n := oldObj.(*unstructured.Unstructured), newObj.(*unstructured.Unstructured)
				if equality.Semantic.DeepEqual(o.Object["status"], n.Object["status"]) {
					return // a spec or metadata change
				}
				real := !equality.Semantic.DeepEqual(withoutTransitionTimes(o.Object["status"]), withoutTransitionTimes(n.Object["status"]))
				w.mu.Lock()
				defer w.mu.Unlock()
				key := n.GetKind() + "/" + n.GetName()
				w.writes[key] = append(w.writes[key], statusWrite{at: time.Now(), real: real, diff: cmp.Diff(o.Object["status"], n.Object["status"])})
			},
		}); err != nil {
			t.Fatal(err)
		}
	}
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	t.Cleanup(func() {
		cancel()
		f.Shutdown()
	})
	return w
}

// since returns the writes of each object from t on.
func (w *statusWrites) since(t time.Time) map[string][]statusWrite {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string][]statusWrite{}
	for k, ws := range w.writes {
		for _, s := range ws {
			if !s.at.Before(t) {
				out[k] = append(out[k], s)
			}
		}
	}
	return out
}

// withoutTransitionTimes is a status with its conditions' lastTransitionTime removed.
func withoutTransitionTimes(status any) any {
	m, ok := status.(map[string]any)
	if !ok {
		return status
	}
	m = maps.Clone(m)
	conds, _ := m["conditions"].([]any)
	out := make([]any, 0, len(conds))
	for _, c := range conds {
		cm, _ := c.(map[string]any)
		cm = maps.Clone(cm)
		delete(cm, "lastTransitionTime")
		out = append(out, cm)
	}
	m["conditions"] = out
	return m
}

// conditionOf returns the condition typ of u's status, or nil.
func conditionOf(u *unstructured.Unstructured, typ string) map[string]any {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, _ := c.(map[string]any); m["type"] == typ {
			return m
		}
	}
	return nil
}

// TestRealQuietStatus: failing Services do not have their status rewritten on every
// resync. A Service whose Revision never becomes ready (no pod ever: it fails its
// 1s progress deadline) and a Service the controller rejects (containerConcurrency
// -1) run under a controller and a store that resync every 100ms. Every status write
// any watcher sees, of the Services, the Configuration, the Route and the Revision,
// changes something other than a lastTransitionTime; once the failure is reported,
// no object's resourceVersion changes in a window of 2s (20 resyncs). (Before, the
// failing Service's Ready lastTransitionTime was rewritten every second, and the
// Revision's ResourcesAvailable and Ready as well once past the deadline.)
func TestRealQuietStatus(t *testing.T) {
	cfg := kubetest.Start(t)
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(cfg)
	writes := watchStatusWrites(t, dyn)
	start := time.Now()
	startStack(t, cfg)

	failing := seed(t)
	failing.SetName("failing")
	if err := unstructured.SetNestedField(failing.Object, "1s", "spec", "template", "metadata", "annotations", "serving.knative.dev/progress-deadline"); err != nil {
		t.Fatal(err)
	}
	invalid := seed(t)
	invalid.SetName("invalid")
	if err := unstructured.SetNestedField(invalid.Object, int64(-1), "spec", "template", "spec", "containerConcurrency"); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []*unstructured.Unstructured{failing, invalid} {
		if _, err := dyn.Resource(store.ServicesGVR).Namespace("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	reason := func(gvr schema.GroupVersionResource, name, typ string) string {
		u, err := get(ctx, dyn, gvr, name)
		if err != nil {
			return ""
		}
		r, _ := conditionOf(u, typ)["reason"].(string)
		return r
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, gvr := range []schema.GroupVersionResource{store.ServicesGVR, store.ConfigurationsGVR, store.RoutesGVR, store.RevisionsGVR} {
				l, _ := dyn.Resource(gvr).Namespace("default").List(ctx, metav1.ListOptions{})
				for _, u := range l.Items {
					t.Logf("%s %s: %v", u.GetKind(), u.GetName(), u.Object["status"])
				}
			}
		}
	})
	waitFor(t, "the failures in every status", func() bool {
		return reason(store.RevisionsGVR, "failing-00001", "Ready") == "ProgressDeadlineExceeded" &&
			reason(store.ConfigurationsGVR, "failing", "Ready") == "RevisionFailed" &&
			reason(store.RoutesGVR, "failing", "Ready") == "RevisionMissing" &&
			reason(store.ServicesGVR, "failing", "ConfigurationsReady") == "RevisionFailed" &&
			reason(store.ServicesGVR, "failing", "RoutesReady") == "RevisionMissing" &&
			reason(store.ServicesGVR, "failing", "Ready") == "RevisionMissing" &&
			reason(store.ServicesGVR, "invalid", "Ready") == "InvalidSpec"
	})
	svc, _ := get(ctx, dyn, store.ServicesGVR, "failing")
	readySince := conditionOf(svc, "Ready")["lastTransitionTime"]

	objects := []struct {
		gvr  schema.GroupVersionResource
		name string
	}{
		{store.ServicesGVR, "failing"}, {store.ConfigurationsGVR, "failing"}, {store.RoutesGVR, "failing"},
		{store.RevisionsGVR, "failing-00001"}, {store.ServicesGVR, "invalid"},
	}
	versions := func() []string {
		var out []string
		for _, o := range objects {
			u, err := get(ctx, dyn, o.gvr, o.name)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, u.GetResourceVersion())
		}
		return out
	}
	quiet, before := time.Now(), versions()
	<-time.After(2 * time.Second) // the observation window: 20 resyncs of the controller and the store
	after := versions()
	for i, o := range objects {
		if before[i] != after[i] {
			t.Errorf("%s %s written in the quiet window (resourceVersion %s, then %s)", o.gvr.Resource, o.name, before[i], after[i])
		}
	}
	for key, ws := range writes.since(quiet) {
		for _, w := range ws {
			t.Logf("%s: status written in or just before the quiet window (real change %v):\n%s", key, w.real, w.diff)
		}
	}
	all := writes.since(start)
	for _, key := range []string{"Service/failing", "Configuration/failing", "Route/failing", "Revision/failing-00001", "Service/invalid"} {
		if len(all[key]) == 0 {
			t.Errorf("%s: no status write seen", key)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(all)) {
		timeOnly := 0
		for _, w := range all[key] {
			if !w.real {
				timeOnly++
				if timeOnly == 1 {
					t.Errorf("%s: a status write that changes only transition times:\n%s", key, w.diff)
				}
			}
		}
		t.Logf("%s: %d status writes, %d changing only transition times", key, len(all[key]), timeOnly)
	}
	svc, _ = get(ctx, dyn, store.ServicesGVR, "failing")
	if got := conditionOf(svc, "Ready")["lastTransitionTime"]; got != readySince {
		t.Errorf("Service Ready lastTransitionTime = %v, want %v (unchanged since it became False)", got, readySince)
	}
}
