package store_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/runtime/kube"
	"github.com/servekit/servekit/serving/runtime/kube/kubetest"
	"github.com/servekit/servekit/serving/runtime/kube/store"
)

// startStack runs a controller, its kube backend and a store against cfg until the
// returned stop is called (stop waits for all of them). Each of with changes the
// store's options.
func startStack(t *testing.T, cfg *rest.Config, with ...func(*store.Options)) (ctrl *controller.Controller, stop func()) {
	t.Helper()
	kb, err := kube.New(kube.Options{Client: kubernetes.NewForConfigOrDie(cfg), Namespace: "default", QueueImage: "example.com/servekit/queue-proxy:v1", StatsClient: noStats{}})
	if err != nil {
		t.Fatal(err)
	}
	b := store.NewBackend(kb)
	ctrl, err = controller.New(controller.Options{Backend: b, ResyncInterval: 100 * time.Millisecond, SourceGenerations: true})
	if err != nil {
		t.Fatal(err)
	}
	so := store.Options{Client: dynamic.NewForConfigOrDie(cfg), Controller: ctrl, Backend: b, Namespace: "default", SyncInterval: 100 * time.Millisecond}
	for _, f := range with {
		f(&so)
	}
	st, err := store.New(so)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- ctrl.Run(ctx) }()
	go func() { done <- st.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	return ctrl, stop
}

// TestRealRestartAdoptsChildren: a new controller (a restart or a new leader) finds
// the children the previous one made and adopts them: no error, no second Revision,
// the same Deployment, the status kept.
func TestRealRestartAdoptsChildren(t *testing.T) {
	cfg := kubetest.Start(t)
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(cfg)
	cs := kubernetes.NewForConfigOrDie(cfg)
	_, stop := startStack(t, cfg)
	if _, err := dyn.Resource(store.ServicesGVR).Namespace("default").Create(ctx, seed(t), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var dep1 metav1.Object
	waitFor(t, "the first controller's Deployment and status", func() bool {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, "helloworld-go-00001-deployment", metav1.GetOptions{})
		if err != nil {
			return false
		}
		dep1 = d
		svc, err := get(ctx, dyn, store.ServicesGVR, "helloworld-go")
		name, _, _ := unstructured.NestedString(svc.Object, "status", "latestCreatedRevisionName")
		return err == nil && name == "helloworld-go-00001"
	})
	stop()
	rev1, _ := get(ctx, dyn, store.RevisionsGVR, "helloworld-go-00001")

	// Wipe the statuses, so that the second controller's writes can be seen: the
	// Revision's is written only after it was adopted and applied to the backend.
	// A write the first controller sent just before stop can still land after it
	// (cancelling a request does not withdraw it from the API server), hence the
	// retry on conflict.
	wipe := func(gvr schema.GroupVersionResource, name string, status map[string]any) {
		t.Helper()
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			o, err := get(ctx, dyn, gvr, name)
			if err != nil {
				return err
			}
			o.Object["status"] = status
			_, err = dyn.Resource(gvr).Namespace("default").UpdateStatus(ctx, o, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wipe(store.RevisionsGVR, "helloworld-go-00001", map[string]any{})
	wipe(store.ServicesGVR, "helloworld-go", map[string]any{"url": "http://stale"})

	ctrl2, _ := startStack(t, cfg)
	waitFor(t, "the statuses written by the second controller", func() bool {
		svc, err1 := get(ctx, dyn, store.ServicesGVR, "helloworld-go")
		rev, err2 := get(ctx, dyn, store.RevisionsGVR, "helloworld-go-00001")
		if err1 != nil || err2 != nil {
			return false
		}
		url, _, _ := unstructured.NestedString(svc.Object, "status", "url")
		name, _, _ := unstructured.NestedString(svc.Object, "status", "latestCreatedRevisionName")
		return url == "http://helloworld-go.default.example.com" && name == "helloworld-go-00001" && condition(rev, "Ready") != ""
	})
	revs, err := dyn.Resource(store.RevisionsGVR).Namespace("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(revs.Items) != 1 || revs.Items[0].GetUID() != rev1.GetUID() {
		t.Errorf("revisions after the restart = %d (%v), want the first one only", len(revs.Items), err)
	}
	d, err := cs.AppsV1().Deployments("default").Get(ctx, "helloworld-go-00001-deployment", metav1.GetOptions{})
	if err != nil || d.GetUID() != dep1.GetUID() {
		t.Errorf("deployment after the restart: %v, uid changed %v", err, err == nil && d.GetUID() != dep1.GetUID())
	}
	if errs := ctrl2.Status().Errors; len(errs) != 0 {
		t.Errorf("controller errors after the restart: %+v", errs)
	}
	for _, r := range ctrl2.Status().Services[0].Revisions {
		if r.Reason == "RuntimeError" {
			t.Errorf("revision %s failed after the restart: %s", r.Name, r.Message)
		}
	}
}

// setTarget sets the TARGET env of the Service's container in the API server (a
// template change).
func setTarget(t *testing.T, dyn dynamic.Interface, target string) {
	t.Helper()
	ctx := context.Background()
	// The store writes the status and the defaults meanwhile: retry on conflicts.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := get(ctx, dyn, store.ServicesGVR, "helloworld-go")
		if err != nil {
			return err
		}
		containers, _, _ := unstructured.NestedSlice(cur.Object, "spec", "template", "spec", "containers")
		containers[0].(map[string]any)["env"] = []any{map[string]any{"name": "TARGET", "value": target}}
		if err := unstructured.SetNestedSlice(cur.Object, containers, "spec", "template", "spec", "containers"); err != nil {
			return err
		}
		_, err = dyn.Resource(store.ServicesGVR).Namespace("default").Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// revisionTarget is the TARGET env of the named Revision in the API server, or "".
func revisionTarget(dyn dynamic.Interface, name string) string {
	rev, err := get(context.Background(), dyn, store.RevisionsGVR, name)
	if err != nil {
		return ""
	}
	containers, _, _ := unstructured.NestedSlice(rev.Object, "spec", "containers")
	if len(containers) == 0 {
		return ""
	}
	env, _ := containers[0].(map[string]any)["env"].([]any)
	for _, e := range env {
		if m, _ := e.(map[string]any); m["name"] == "TARGET" {
			s, _ := m["value"].(string)
			return s
		}
	}
	return ""
}

// TestRealRestartKeepsGenerations: Revision names follow the API server's
// Configuration generation across a restart. After two template changes (-00003)
// and a restart, a third change makes -00004 with the new template, rather than a
// -00002 that would be adopted with a stale template; a change made while no
// controller ran is stamped once a controller runs again.
func TestRealRestartKeepsGenerations(t *testing.T) {
	cfg := kubetest.Start(t)
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(cfg)
	_, stop := startStack(t, cfg)
	if _, err := dyn.Resource(store.ServicesGVR).Namespace("default").Create(ctx, seed(t), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "helloworld-go-00001", func() bool {
		_, err := get(ctx, dyn, store.RevisionsGVR, "helloworld-go-00001")
		return err == nil
	})
	setTarget(t, dyn, "two")
	waitFor(t, "helloworld-go-00002 with TARGET=two", func() bool { return revisionTarget(dyn, "helloworld-go-00002") == "two" })
	setTarget(t, dyn, "three")
	waitFor(t, "helloworld-go-00003 with TARGET=three", func() bool { return revisionTarget(dyn, "helloworld-go-00003") == "three" })
	stop()

	ctrl2, stop2 := startStack(t, cfg)
	waitFor(t, "the restarted controller to adopt helloworld-go-00003", func() bool {
		st := ctrl2.Status()
		return len(st.Services) == 1 && st.Services[0].LatestCreatedRevisionName == "helloworld-go-00003"
	})
	setTarget(t, dyn, "four")
	waitFor(t, "helloworld-go-00004 with TARGET=four", func() bool { return revisionTarget(dyn, "helloworld-go-00004") == "four" })
	for name, want := range map[string]string{"helloworld-go-00002": "two", "helloworld-go-00003": "three"} {
		if got := revisionTarget(dyn, name); got != want {
			t.Errorf("%s TARGET = %q, want %q (unchanged)", name, got, want)
		}
	}
	waitFor(t, "the Service to report helloworld-go-00004", func() bool {
		svc, err := get(ctx, dyn, store.ServicesGVR, "helloworld-go")
		if err != nil {
			return false
		}
		name, _, _ := unstructured.NestedString(svc.Object, "status", "latestCreatedRevisionName")
		return name == "helloworld-go-00004"
	})

	// A change while no controller runs is stamped by the next one as -00005.
	stop2()
	setTarget(t, dyn, "five")
	startStack(t, cfg)
	waitFor(t, "helloworld-go-00005 with TARGET=five", func() bool { return revisionTarget(dyn, "helloworld-go-00005") == "five" })
}

// TestRealRestartAfterTrafficChange: a Service created, then changed only in its
// traffic, then a restart: the new controller adopts the one Revision; it does not
// stamp a second one with the same template. The admission webhook stored the
// create-time defaults (enableServiceLinks: false among them) in generation 1.
// (Before the defaults were stored at all, the restarted controller defaulted the
// generation-2 Service as an update, its Configuration lost the create-only
// enableServiceLinks: false and a second Revision was stamped.)
func TestRealRestartAfterTrafficChange(t *testing.T) {
	cfg := kubetest.Start(t)
	kubetest.StartWebhook(t, cfg, nil)
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(cfg)
	_, stop := startStack(t, cfg)
	if _, err := dyn.Resource(store.ServicesGVR).Namespace("default").Create(ctx, seed(t), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	observed := func(gen int64) func() bool {
		return func() bool {
			svc, err := get(ctx, dyn, store.ServicesGVR, "helloworld-go")
			if err != nil {
				return false
			}
			name, _, _ := unstructured.NestedString(svc.Object, "status", "latestCreatedRevisionName")
			got, _, _ := unstructured.NestedInt64(svc.Object, "status", "observedGeneration")
			return name == "helloworld-go-00001" && svc.GetGeneration() == gen && got == gen
		}
	}
	waitFor(t, "helloworld-go-00001 (generation 1)", observed(1))

	// A traffic-only change: a tag on the first Revision (as kubectl apply would
	// send it, without the defaults of the new entry).
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		svc, err := get(ctx, dyn, store.ServicesGVR, "helloworld-go")
		if err != nil {
			return err
		}
		traffic := []any{
			map[string]any{"latestRevision": true, "percent": int64(100)},
			map[string]any{"revisionName": "helloworld-go-00001", "percent": int64(0), "tag": "first"},
		}
		if err := unstructured.SetNestedSlice(svc.Object, traffic, "spec", "traffic"); err != nil {
			return err
		}
		_, err = dyn.Resource(store.ServicesGVR).Namespace("default").Update(ctx, svc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// 2 is the change, defaulted at admission (latestRevision: false on the tag).
	waitFor(t, "generation 2 observed", observed(2))
	stop()

	ctrl2, _ := startStack(t, cfg)
	var latest string
	waitFor(t, "the restarted controller's latest created Revision", func() bool {
		st := ctrl2.Status()
		if len(st.Services) != 1 {
			return false
		}
		latest = st.Services[0].LatestCreatedRevisionName
		return latest != ""
	})
	if latest != "helloworld-go-00001" {
		t.Errorf("after the restart the latest created Revision is %s, want helloworld-go-00001 adopted", latest)
	}
	waitFor(t, "the restarted controller's status written", observed(2))
	revs, err := dyn.Resource(store.RevisionsGVR).Namespace("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(revs.Items) != 1 {
		names := []string{}
		for _, r := range revs.Items {
			names = append(names, r.GetName())
		}
		t.Errorf("revisions after the restart = %v (%v), want helloworld-go-00001 only", names, err)
	}
}
