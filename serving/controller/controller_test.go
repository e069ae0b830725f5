package controller_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/servekit/servekit/autoscaler/metrics"
	"github.com/servekit/servekit/queue"
	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/runtime"
	v1 "github.com/servekit/servekit/serving/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeBackend runs each pod as an in-process HTTP server that answers with its
// revision's name (and answers the activator's health probe).
type fakeBackend struct {
	mu      sync.Mutex
	revs    map[types.NamespacedName][]*httptest.Server
	applied []string
	// neverReady marks revisions whose pods never become ready.
	neverReady map[types.NamespacedName]bool
	deleted    []string
	notify     func(types.NamespacedName)
	// stopped is set when Run has closed the pods: a Scale racing the
	// controller's shutdown starts no server (it would outlive the test).
	stopped bool
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{revs: map[types.NamespacedName][]*httptest.Server{}, neverReady: map[types.NamespacedName]bool{}}
}

func (b *fakeBackend) Run(ctx context.Context, notify func(types.NamespacedName)) error {
	b.mu.Lock()
	b.notify = notify
	b.mu.Unlock()
	<-ctx.Done()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopped = true
	for k, pods := range b.revs {
		for _, p := range pods {
			p.Close()
		}
		b.revs[k] = nil
	}
	return nil
}

func (b *fakeBackend) Apply(rev *v1.Revision) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.applied = append(b.applied, rev.Name)
	if rev.Spec.Containers[0].Image == "unrunnable" {
		return errors.New("spec.containers[0].image \"unrunnable\": not in the image map")
	}
	key := types.NamespacedName{Namespace: rev.Namespace, Name: rev.Name}
	b.revs[key] = nil
	if rev.Spec.Containers[0].Image == "never-ready" {
		b.neverReady[key] = true
	}
	return nil
}

func (b *fakeBackend) Scale(key types.NamespacedName, n int) error {
	b.mu.Lock()
	pods := b.revs[key]
	for len(pods) < n && !b.stopped {
		name := key.Name
		pods = append(pods, httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get(queue.ProbeHeaderName) == queue.ProbeHeaderValue {
				_, _ = io.WriteString(w, queue.ProbeHeaderValue)
				return
			}
			_, _ = io.WriteString(w, "rev="+name)
		})))
	}
	for len(pods) > n {
		pods[len(pods)-1].Close()
		pods = pods[:len(pods)-1]
	}
	b.revs[key] = pods
	notify := b.notify
	b.mu.Unlock()
	if notify != nil {
		notify(key)
	}
	return nil
}

func (b *fakeBackend) Delete(key types.NamespacedName) error {
	_ = b.Scale(key, 0)
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.revs, key)
	b.deleted = append(b.deleted, key.Name)
	return nil
}

func (b *fakeBackend) Pods(key types.NamespacedName) []runtime.Pod {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []runtime.Pod
	for _, s := range b.revs[key] {
		p := runtime.Pod{Name: s.URL, Address: strings.TrimPrefix(s.URL, "http://"), Ready: true}
		if b.neverReady[key] {
			p.Ready, p.Reason = false, "readiness probe failed: HTTP probe failed with statuscode: 503"
			p.LastProbeFailure = runtime.ProbeFailure{Probe: "readiness", Message: "HTTP probe failed with statuscode: 503", Time: neverReadySince}
		}
		out = append(out, p)
	}
	return out
}

// neverReadySince is when the never-ready pods' probe last failed.
var neverReadySince = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

func (b *fakeBackend) Stats(types.NamespacedName, time.Time) []metrics.Stat { return nil }

func testService(name, image string) *v1.Service {
	return &v1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1.ServiceSpec{ConfigurationSpec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
			Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: image}}}},
		}}},
	}
}

// run starts c.Run until the test ends.
func run(t *testing.T, c *controller.Controller) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // poll interval of an observed condition
	}
}

func serve(h http.Handler, host string) (int, string) {
	req := httptest.NewRequest(http.MethodGet, "http://"+host+"/", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestServiceBecomesReadyAndServes(t *testing.T) {
	b := newFakeBackend()
	c, err := controller.New(controller.Options{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply("hello.yaml", []v1.Object{testService("hello", "example.com/hello")}); err != nil {
		t.Fatal(err)
	}
	run(t, c)
	waitFor(t, "hello Ready", func() bool {
		st := c.Status()
		return len(st.Services) == 1 && st.Services[0].Ready
	})
	st := c.Status()
	got := st.Services[0]
	got.Revisions = nil
	want := controller.ServiceStatus{
		Name: "hello", Namespace: "default", URL: "http://hello.default.example.com", Ready: true,
		LatestCreatedRevisionName: "hello-00001", LatestReadyRevisionName: "hello-00001",
		Traffic: []controller.TrafficStatus{{RevisionName: "hello-00001", Percent: 100, LatestRevision: true}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	for _, host := range []string{"hello.default.example.com", "hello.default.example.com:8080", "hello.default.svc.cluster.local"} {
		if code, body := serve(c.Handler(), host); code != http.StatusOK || body != "rev=hello-00001" {
			t.Errorf("GET Host %s = %d %q, want 200 rev=hello-00001", host, code, body)
		}
	}
	if code, _ := serve(c.Handler(), "other.default.example.com"); code != http.StatusNotFound {
		t.Errorf("unknown host: %d, want 404", code)
	}
}

func TestApplyRejectsInvalidAndChangesNothing(t *testing.T) {
	b := newFakeBackend()
	c, err := controller.New(controller.Options{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	good := testService("hello", "example.com/hello")
	if err := c.Apply("hello.yaml", []v1.Object{good}); err != nil {
		t.Fatal(err)
	}
	bad := testService("hello", "example.com/hello")
	bad.Spec.Template.Spec.ContainerConcurrency = new(int64(-1))
	err = c.Apply("hello.yaml", []v1.Object{bad})
	var ae *controller.ApplyError
	if !errors.As(err, &ae) || !strings.Contains(ae.Error(), "spec.template.spec.containerConcurrency") {
		t.Fatalf("Apply(containerConcurrency -1) = %v, want an *ApplyError naming spec.template.spec.containerConcurrency", err)
	}
	st := c.Status()
	if len(st.Services) != 1 || len(st.Errors) != 1 || st.Errors[0].Source != "hello.yaml" {
		t.Errorf("status after a rejected update = %+v, want the old service kept and hello.yaml listed in errors", st)
	}
	// Another source may not redefine the service.
	err = c.Apply("other.yaml", []v1.Object{testService("hello", "example.com/x")})
	if err == nil || !strings.Contains(err.Error(), "already defined by hello.yaml") {
		t.Errorf("Apply from a second source = %v, want \"already defined by hello.yaml\"", err)
	}
	// A valid version clears the error.
	if err := c.Apply("hello.yaml", []v1.Object{good}); err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); len(st.Errors) != 1 || st.Errors[0].Source != "other.yaml" {
		t.Errorf("errors after a valid apply = %+v, want only other.yaml", st.Errors)
	}
}

func TestDeleteRemovesServiceAndRevisions(t *testing.T) {
	b := newFakeBackend()
	c, err := controller.New(controller.Options{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply("hello.yaml", []v1.Object{testService("hello", "example.com/hello")}); err != nil {
		t.Fatal(err)
	}
	run(t, c)
	waitFor(t, "hello Ready", func() bool { st := c.Status(); return len(st.Services) == 1 && st.Services[0].Ready })
	c.Delete("hello.yaml")
	waitFor(t, "revision deleted", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return slices.Contains(b.deleted, "hello-00001")
	})
	if st := c.Status(); len(st.Services) != 0 {
		t.Errorf("services after Delete = %+v, want none", st.Services)
	}
	waitFor(t, "host gone from the table", func() bool {
		code, _ := serve(c.Handler(), "hello.default.example.com")
		return code == http.StatusNotFound
	})
}

func TestUnrunnableRevisionIsReported(t *testing.T) {
	b := newFakeBackend()
	c, err := controller.New(controller.Options{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply("x.yaml", []v1.Object{testService("x", "unrunnable")}); err != nil {
		t.Fatal(err)
	}
	run(t, c)
	waitFor(t, "revision failure in status", func() bool {
		st := c.Status()
		return len(st.Services) == 1 && len(st.Services[0].Revisions) == 1 &&
			strings.Contains(st.Services[0].Revisions[0].Message, "not in the image map")
	})
	st := c.Status().Services[0]
	if st.Ready || st.Revisions[0].Ready {
		t.Errorf("status = %+v, want service and revision not ready", st)
	}
}

// A rollout-duration moves traffic to a new revision in steps: right after it is
// ready, both revisions share the traffic and the route reports the rollout.
func TestGradualRollout(t *testing.T) {
	b := newFakeBackend()
	c, err := controller.New(controller.Options{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	svc := testService("hello", "example.com/hello")
	svc.Annotations = map[string]string{"serving.knative.dev/rollout-duration": "600s"}
	if err := c.Apply("hello.yaml", []v1.Object{svc}); err != nil {
		t.Fatal(err)
	}
	run(t, c)
	waitFor(t, "hello-00001 Ready", func() bool { st := c.Status(); return len(st.Services) == 1 && st.Services[0].Ready })
	v2 := svc.DeepCopy()
	v2.Spec.Template.Spec.Containers[0].Image = "example.com/hello:v2"
	if err := c.Apply("hello.yaml", []v1.Object{v2}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a split between both revisions", func() bool {
		st := c.Status()
		return len(st.Services) == 1 && len(st.Services[0].Traffic) == 2
	})
	st := c.Status().Services[0]
	got := map[string]int64{}
	for _, tr := range st.Traffic {
		got[tr.RevisionName] = tr.Percent
	}
	if got["hello-00001"]+got["hello-00002"] != 100 || got["hello-00002"] == 0 || got["hello-00002"] >= 50 {
		t.Errorf("traffic at the rollout's start = %v, want a small first step to hello-00002", got)
	}
	if st.Ready {
		t.Errorf("service Ready during the rollout; want not ready (%s)", st.Reason)
	}
}

// A standalone Configuration and a Route that sends its traffic there work as in
// Knative, without a Service.
func TestStandaloneConfigurationAndRoute(t *testing.T) {
	b := newFakeBackend()
	c, err := controller.New(controller.Options{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &v1.Configuration{
		ObjectMeta: metav1.ObjectMeta{Name: "cfg"},
		Spec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
			Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "example.com/app"}}}},
		}},
	}
	rt := &v1.Route{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       v1.RouteSpec{Traffic: []v1.TrafficTarget{{ConfigurationName: "cfg", Percent: new(int64(100))}}},
	}
	if err := c.Apply("app.yaml", []v1.Object{cfg, rt}); err != nil {
		t.Fatal(err)
	}
	run(t, c)
	waitFor(t, "web routes to cfg-00001", func() bool {
		code, body := serve(c.Handler(), "web.default.example.com")
		return code == http.StatusOK && body == "rev=cfg-00001"
	})
}

// A revision whose pods never become ready fails when its progress deadline passes,
// as in Knative.
func TestProgressDeadline(t *testing.T) {
	b := newFakeBackend()
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	c, err := controller.New(controller.Options{Backend: b, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	svc := testService("slow", "never-ready")
	svc.Spec.Template.Annotations = map[string]string{"serving.knative.dev/progress-deadline": "10s"}
	if err := c.Apply("slow.yaml", []v1.Object{svc}); err != nil {
		t.Fatal(err)
	}
	run(t, c)
	waitFor(t, "the revision", func() bool {
		st := c.Status()
		return len(st.Services) == 1 && len(st.Services[0].Revisions) == 1
	})
	if r := c.Status().Services[0].Revisions[0]; r.Reason == "ProgressDeadlineExceeded" {
		t.Fatalf("failed before its deadline: %+v", r)
	}
	waitFor(t, "ProgressDeadlineExceeded", func() bool {
		clk.Step(time.Second) // the resync ticker runs on this clock
		r := c.Status().Services[0].Revisions[0]
		return r.Reason == "ProgressDeadlineExceeded" && r.Message == "Initial scale was never achieved"
	})
	if st := c.Status().Services[0]; st.Ready {
		t.Errorf("service Ready with a failed revision: %+v", st)
	}
}

// Status shows each pod of a revision: in rotation or not, why, and its last
// failed probe, as the backend reports them.
func TestStatusShowsPods(t *testing.T) {
	b := newFakeBackend()
	c, err := controller.New(controller.Options{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply("slow.yaml", []v1.Object{testService("slow", "never-ready")}); err != nil {
		t.Fatal(err)
	}
	run(t, c)
	waitFor(t, "a pod of the revision", func() bool {
		st := c.Status()
		return len(st.Services) == 1 && len(st.Services[0].Revisions) == 1 && len(st.Services[0].Revisions[0].Pods) == 1
	})
	got := c.Status().Services[0].Revisions[0].Pods[0]
	got.Name = ""
	want := controller.PodStatus{
		Reason:           "readiness probe failed: HTTP probe failed with statuscode: 503",
		LastProbeFailure: &controller.ProbeFailure{Probe: "readiness", Message: "HTTP probe failed with statuscode: 503", Time: neverReadySince},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pod status (-want +got):\n%s", diff)
	}
}
