package store_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/runtime/kube/kubetest"
	"github.com/servekit/servekit/serving/runtime/kube/store"
)

// writeLog records every request but reads (GET) that a client sends.
type writeLog struct {
	mu   sync.Mutex
	reqs []string
}

func (w *writeLog) wrap(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method != http.MethodGet {
				w.mu.Lock()
				w.reqs = append(w.reqs, r.Method+" "+r.URL.Path)
				w.mu.Unlock()
			}
			return rt.RoundTrip(r)
		})
	}
	return cfg
}

func (w *writeLog) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.reqs...)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// replica is one controller replica of a test: its controller, store and recording
// backend (every applied revision has one ready pod).
type replica struct {
	ctrl    *controller.Controller
	store   *store.Store
	backend *recBackend
	stop    func()
}

// startReplica runs a controller with a recording backend and a store against cfg.
func startReplica(t *testing.T, cfg *rest.Config, follower bool) *replica {
	t.Helper()
	r := &replica{backend: newRecBackend()}
	b := store.NewBackend(r.backend)
	var err error
	r.ctrl, err = controller.New(controller.Options{Backend: b, ResyncInterval: 100 * time.Millisecond, SourceGenerations: true})
	if err != nil {
		t.Fatal(err)
	}
	r.store, err = store.New(store.Options{Client: dynamic.NewForConfigOrDie(cfg), Controller: r.ctrl, Backend: b, Namespace: "default",
		SyncInterval: 100 * time.Millisecond, Follower: follower})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- r.ctrl.Run(ctx) }()
	go func() { done <- r.store.Run(ctx) }()
	stopped := false
	r.stop = func() {
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
	t.Cleanup(r.stop)
	return r
}

// servedBy is what a replica serves for the Service helloworld-go: its latest
// ready Revision and its traffic.
func servedBy(r *replica) (string, []controller.TrafficStatus) {
	st := r.ctrl.Status()
	if len(st.Services) != 1 {
		return "", nil
	}
	return st.Services[0].LatestReadyRevisionName, st.Services[0].Traffic
}

// TestRealFollowerMatchesLeader: a leader and a follower replica on one API server.
// After the seed and a template change, the follower's controller serves the same
// Revision names and traffic as the leader's, its backend got each Revision with the
// API server's UID, and it sent no write. Once the leader is gone and the follower
// is made leader, it writes: the next template change makes -00003.
func TestRealFollowerMatchesLeader(t *testing.T) {
	cfg := kubetest.Start(t)
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(cfg)
	leader := startReplica(t, cfg, false)
	var log writeLog
	follower := startReplica(t, log.wrap(cfg), true)

	if _, err := dyn.Resource(store.ServicesGVR).Namespace("default").Create(ctx, seed(t), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	same := func(rev string) func() bool {
		return func() bool {
			lr, lt := servedBy(leader)
			fr, ft := servedBy(follower)
			return lr == rev && fr == rev && len(lt) == 1 && cmp.Equal(lt, ft)
		}
	}
	for _, step := range []struct {
		name, target, rev string
	}{
		{"seed", "", "helloworld-go-00001"},
		{"template change", "two", "helloworld-go-00002"},
	} {
		if step.target != "" {
			setTarget(t, dyn, step.target)
		}
		waitFor(t, step.name+": both replicas serve "+step.rev, same(step.rev))
		_, traffic := servedBy(follower)
		want := []controller.TrafficStatus{{RevisionName: step.rev, Percent: 100, LatestRevision: true}}
		if diff := cmp.Diff(want, traffic); diff != "" {
			t.Errorf("%s: follower traffic (-want +got):\n%s", step.name, diff)
		}
		rev, err := get(ctx, dyn, store.RevisionsGVR, step.rev)
		if err != nil {
			t.Fatal(err)
		}
		key := types.NamespacedName{Namespace: "default", Name: step.rev}
		if got := follower.backend.uid(key); got != rev.GetUID() {
			t.Errorf("%s: follower backend got %s with UID %q, want the API server's %q", step.name, step.rev, got, rev.GetUID())
		}
	}
	if w := log.list(); len(w) != 0 {
		t.Errorf("the follower wrote %d times: %v", len(w), w)
	}

	// Take-over: the leader goes, the follower leads and writes.
	leader.stop()
	follower.store.SetLeader(true)
	setTarget(t, dyn, "three")
	waitFor(t, "helloworld-go-00003 written by the new leader and in its status", func() bool {
		svc, err := get(ctx, dyn, store.ServicesGVR, "helloworld-go")
		if err != nil || revisionTarget(dyn, "helloworld-go-00003") != "three" {
			return false
		}
		name, _, _ := unstructured.NestedString(svc.Object, "status", "latestReadyRevisionName")
		gen, _, _ := unstructured.NestedInt64(svc.Object, "status", "observedGeneration")
		return name == "helloworld-go-00003" && gen == svc.GetGeneration()
	})
	if len(log.list()) == 0 {
		t.Error("the new leader wrote nothing")
	}
}

// TestRealRejectedServiceStatus: the CRD schema accepts containerConcurrency -1,
// Knative's validation does not (there is no webhook): the Service's status says so
// (observedGeneration 1, Ready False InvalidSpec with the field path) and nothing is
// created; once fixed, it gets its children and the controller's status.
func TestRealRejectedServiceStatus(t *testing.T) {
	cfg := kubetest.Start(t)
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(cfg)
	startReplica(t, cfg, false)
	bad := seed(t)
	if err := unstructured.SetNestedField(bad.Object, int64(-1), "spec", "template", "spec", "containerConcurrency"); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(store.ServicesGVR).Namespace("default").Create(ctx, bad, metav1.CreateOptions{}); err != nil {
		t.Fatalf("the CRD schema refused containerConcurrency -1: %v", err)
	}
	var svc *unstructured.Unstructured
	waitFor(t, "the rejected status", func() bool {
		svc, _ = get(ctx, dyn, store.ServicesGVR, "helloworld-go")
		return svc != nil && readyCondition(svc)["reason"] == "InvalidSpec"
	})
	gen, _, _ := unstructured.NestedInt64(svc.Object, "status", "observedGeneration")
	msg, _ := readyCondition(svc)["message"].(string)
	const want = "Service default/helloworld-go: spec.template.spec.containerConcurrency: expected 0 <= -1 <= 1000"
	if gen != 1 || readyCondition(svc)["status"] != "False" || msg != want {
		t.Errorf("status = %v, want observedGeneration 1 and Ready False with the message %q", svc.Object["status"], want)
	}
	if _, err := get(ctx, dyn, store.ConfigurationsGVR, "helloworld-go"); !apierrors.IsNotFound(err) {
		t.Errorf("Configuration of a rejected Service: %v, want NotFound", err)
	}

	unstructured.RemoveNestedField(svc.Object, "spec", "template", "spec", "containerConcurrency")
	if _, err := dyn.Resource(store.ServicesGVR).Namespace("default").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the fixed Service's status", func() bool {
		svc, _ = get(ctx, dyn, store.ServicesGVR, "helloworld-go")
		gen, name, reason := statusOf(svc)
		// 2 is the fix (no webhook runs here: the rejected version was stored).
		return gen == 2 && svc.GetGeneration() == 2 && name == "helloworld-go-00001" && reason != "InvalidSpec"
	})
}
