package kube

// Tests against a real kube-apiserver and etcd (serving/runtime/kube/kubetest). They skip when
// hack/testbin.sh has not built the binaries, unless SERVEKIT_REQUIRE_APISERVER=1.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	servingruntime "github.com/servekit/servekit/serving/runtime"
	"github.com/servekit/servekit/serving/runtime/kube/kubetest"
	v1 "github.com/servekit/servekit/serving/v1"
)

var (
	ksvcGVR = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}
	revGVR  = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "revisions"}
)

// normalize turns any JSON-able value into plain maps, slices, strings and float64s.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRealSeedServiceRoundTrip applies the seed manifest, unchanged, to a real API
// server through the dynamic client: the CRD schema accepts it and prunes nothing, the
// object reads back as our typed Service, status is written through the status
// subresource, and `kubectl get ksvc` columns come back from the server.
func TestRealSeedServiceRoundTrip(t *testing.T) {
	cfg := kubetest.Start(t)
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(cfg)

	manifest := map[string]any{}
	if err := yaml.Unmarshal([]byte(seedManifest), &manifest); err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{Object: manifest}
	created, err := dyn.Resource(ksvcGVR).Namespace("default").Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the seed Service: %v", err)
	}
	got, err := dyn.Resource(ksvcGVR).Namespace("default").Get(ctx, "helloworld-go", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing is pruned; the only change is the schema's default for a port's protocol.
	want := normalize(t, manifest["spec"])
	port := want.(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["ports"].([]any)[0].(map[string]any)
	port["protocol"] = "TCP"
	if diff := cmp.Diff(want, normalize(t, got.Object["spec"])); diff != "" {
		t.Errorf("spec after the round trip (-want +stored):\n%s", diff)
	}

	// It decodes (strictly) as our Service.
	raw, err := got.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	typed, derr := v1.DecodeDocument(raw, v1.DecodeOptions{Strict: true})
	if derr != nil {
		t.Fatalf("decoding the stored Service: %v", derr)
	}
	svc := typed.(*v1.Service)
	if svc.UID == "" || svc.Spec.Template.Annotations["autoscaling.knative.dev/target"] != "10" {
		t.Errorf("stored Service = %+v", svc.ObjectMeta)
	}

	// Status goes through /status; the main resource ignores it.
	status := map[string]any{
		"observedGeneration":        int64(1),
		"url":                       "http://helloworld-go.default.example.com",
		"latestCreatedRevisionName": "helloworld-go-00001",
		"latestReadyRevisionName":   "helloworld-go-00001",
		"conditions": []any{
			map[string]any{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-27T03:00:00Z"},
			map[string]any{"type": "RoutesReady", "status": "False", "reason": "Waiting"},
		},
	}
	withStatus := got.DeepCopy()
	withStatus.Object["status"] = status
	if _, err := dyn.Resource(ksvcGVR).Namespace("default").Update(ctx, withStatus, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	afterUpdate, _ := dyn.Resource(ksvcGVR).Namespace("default").Get(ctx, "helloworld-go", metav1.GetOptions{})
	if st, _ := afterUpdate.Object["status"].(map[string]any); st["url"] != nil {
		t.Error("an update of the main resource wrote status: no status subresource?")
	}
	afterUpdate.Object["status"] = status
	if _, err := dyn.Resource(ksvcGVR).Namespace("default").UpdateStatus(ctx, afterUpdate, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("UpdateStatus: %v", err)
	}

	// What `kubectl get ksvc` prints (as with Knative, no AGE column).
	table := getTable(t, cfg, "/apis/serving.knative.dev/v1/namespaces/default/services")
	var cols []string
	for _, c := range table.ColumnDefinitions {
		cols = append(cols, c.Name)
	}
	if diff := cmp.Diff([]string{"Name", "URL", "LatestCreated", "LatestReady", "Ready", "Reason"}, cols); diff != "" {
		t.Errorf("ksvc columns (-want +got):\n%s", diff)
	}
	if len(table.Rows) != 1 {
		t.Fatalf("%d rows, want 1", len(table.Rows))
	}
	cells := table.Rows[0].Cells[:6]
	wantRow := []any{"helloworld-go", "http://helloworld-go.default.example.com", "helloworld-go-00001", "helloworld-go-00001", "True", nil}
	if diff := cmp.Diff(wantRow, cells); diff != "" {
		t.Errorf("ksvc row (-want +got):\n%s", diff)
	}

	// Short names and categories are served (kubectl get ksvc / kubectl get knative).
	cs := kubernetes.NewForConfigOrDie(cfg)
	rl, err := cs.Discovery().ServerResourcesForGroupVersion("serving.knative.dev/v1")
	if err != nil {
		t.Fatal(err)
	}
	short := map[string][]string{}
	for _, r := range rl.APIResources {
		if !strings.Contains(r.Name, "/") {
			short[r.Name] = r.ShortNames
			if !contains(r.Categories, "knative") {
				t.Errorf("%s categories = %v, want knative", r.Name, r.Categories)
			}
		}
	}
	wantShort := map[string][]string{
		"services": {"kservice", "ksvc"}, "configurations": {"config", "cfg", "kcfg"},
		"revisions": {"rev"}, "routes": {"rt"},
	}
	if diff := cmp.Diff(wantShort, short); diff != "" {
		t.Errorf("short names (-want +got):\n%s", diff)
	}

	// The schema rejects a wrong type with the field's path.
	bad := created.DeepCopy()
	bad.SetName("bad")
	bad.SetResourceVersion("")
	bad.SetUID("")
	if err := unstructured.SetNestedField(bad.Object, "lots", "spec", "template", "spec", "containerConcurrency"); err != nil {
		t.Fatal(err)
	}
	_, err = dyn.Resource(ksvcGVR).Namespace("default").Create(ctx, bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.template.spec.containerConcurrency") {
		t.Errorf("creating a Service with containerConcurrency \"lots\": %v, want Invalid naming the field", err)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// getTable GETs path as a meta.k8s.io Table, as kubectl get does.
func getTable(t *testing.T, cfg *rest.Config, path string) metav1.Table {
	t.Helper()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, cfg.Host+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s as Table: %s: %s", path, resp.Status, body)
	}
	var table metav1.Table
	if err := json.Unmarshal(body, &table); err != nil {
		t.Fatal(err)
	}
	return table
}

// TestRealBackend drives the Backend against a real API server: the seed Revision
// (stored as a Revision object, so the owner reference is real) becomes a Deployment
// and a private Service the server accepts; Scale goes through the real scale
// subresource; an EndpointSlice written by the test (as the EndpointSlice controller
// would) makes a ready pod; Delete removes the children.
func TestRealBackend(t *testing.T) {
	cfg := kubetest.Start(t)
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(cfg)
	cs := kubernetes.NewForConfigOrDie(cfg)

	rev := seedRevision(t)
	rev.UID = ""
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(rev)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := dyn.Resource(revGVR).Namespace("default").Create(ctx, &unstructured.Unstructured{Object: u}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the Revision: %v", err)
	}
	rev.UID = stored.GetUID()

	fs := &fakeStats{} // the pod IPs below are not on this machine: never scrape them
	b, err := New(Options{Client: cs, Namespace: "default", QueueImage: "example.com/servekit/queue-proxy:v1", StatsClient: fs})
	if err != nil {
		t.Fatal(err)
	}
	n := newNotifications()
	run(t, b, n.notify)

	if err := b.Apply(rev); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	d, err := cs.AppsV1().Deployments("default").Get(ctx, "helloworld-go-00001-deployment", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("deployment: %v", err)
	}
	ctrl := true
	wantOwner := []metav1.OwnerReference{{APIVersion: "serving.knative.dev/v1", Kind: "Revision", Name: "helloworld-go-00001",
		UID: rev.UID, Controller: &ctrl, BlockOwnerDeletion: &ctrl}}
	if diff := cmp.Diff(wantOwner, d.OwnerReferences); diff != "" {
		t.Errorf("deployment owner (-want +got):\n%s", diff)
	}
	if got := d.Spec.Selector.MatchLabels[RevisionUIDLabelKey]; got != string(rev.UID) {
		t.Errorf("selector = %v", d.Spec.Selector.MatchLabels)
	}
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 2 || pod.Containers[0].Name != "user-container" || pod.Containers[1].Name != "queue-proxy" {
		t.Fatalf("containers = %+v", pod.Containers)
	}
	want, _ := makeDeployment(rev, b.pc)
	if diff := cmp.Diff(want.Spec.Template.Spec.Containers[1].Env, pod.Containers[1].Env, cmpEnvIgnoringAPIVersion); diff != "" {
		t.Errorf("queue-proxy env as stored (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want.Spec.Template.Spec.Containers[0].Env, pod.Containers[0].Env); diff != "" {
		t.Errorf("user env as stored (-want +got):\n%s", diff)
	}
	if *pod.TerminationGracePeriodSeconds != 300 || pod.Containers[0].Lifecycle.PreStop.HTTPGet.Path != "/wait-for-drain" {
		t.Errorf("grace %d, preStop %+v", *pod.TerminationGracePeriodSeconds, pod.Containers[0].Lifecycle.PreStop)
	}
	svc, err := cs.CoreV1().Services("default").Get(ctx, "helloworld-go-00001-private", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("private service: %v", err)
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.Ports[0].Name != "http" || svc.Spec.Ports[0].TargetPort.IntValue() != 8012 {
		t.Errorf("private service spec = %+v", svc.Spec)
	}

	// Scale through the real scale subresource.
	if err := b.Scale(seedKey, 3); err != nil {
		t.Fatalf("Scale: %v", err)
	}
	sc, err := cs.AppsV1().Deployments("default").GetScale(ctx, "helloworld-go-00001-deployment", metav1.GetOptions{})
	if err != nil || sc.Spec.Replicas != 3 {
		t.Errorf("scale = %+v, %v; want 3 replicas", sc, err)
	}
	if d, _ := cs.AppsV1().Deployments("default").Get(ctx, "helloworld-go-00001-deployment", metav1.GetOptions{}); *d.Spec.Replicas != 3 {
		t.Errorf("deployment replicas = %d, want 3", *d.Spec.Replicas)
	}

	// The test plays the EndpointSlice controller: the Service's labels are copied.
	labels := map[string]string{discoveryv1.LabelServiceName: svc.Name, discoveryv1.LabelManagedBy: "servekit-test"}
	for k, v := range svc.Labels {
		labels[k] = v
	}
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: svc.Name + "-abcde", Namespace: "default", Labels: labels},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr[int32](8012), Protocol: ptr(corev1.ProtocolTCP)}},
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{"10.244.0.7"},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr(true), Serving: ptr(true), Terminating: ptr(false)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "helloworld-go-00001-deployment-7d9f-abcde"},
		}},
	}
	if es, err = cs.DiscoveryV1().EndpointSlices("default").Create(ctx, es, metav1.CreateOptions{}); err != nil {
		t.Fatalf("EndpointSlice: %v", err)
	}
	waitFor(t, "the pod", n.ch, func() bool { return len(b.Pods(seedKey)) == 1 })
	wantPod := []servingruntime.Pod{{Name: "helloworld-go-00001-deployment-7d9f-abcde", Address: "10.244.0.7:8012", Ready: true}}
	if diff := cmp.Diff(wantPod, b.Pods(seedKey)); diff != "" {
		t.Errorf("pods (-want +got):\n%s", diff)
	}
	es.Endpoints[0].Conditions = discoveryv1.EndpointConditions{Ready: ptr(false), Serving: ptr(true), Terminating: ptr(true)}
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Update(ctx, es, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pod to terminate", n.ch, func() bool { p := b.Pods(seedKey); return len(p) == 1 && p[0].Terminating && !p[0].Ready })

	// The Pod (no kubelet runs it; the test writes its status) reports a crash.
	podObj := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: es.Endpoints[0].TargetRef.Name, Namespace: "default", Labels: d.Spec.Template.Labels},
		Spec:       *d.Spec.Template.Spec.DeepCopy(),
	}
	if podObj, err = cs.CoreV1().Pods("default").Create(ctx, podObj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("pod: %v", err)
	}
	podObj.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: "user-container", Image: "example.com/hello", RestartCount: 2, LastTerminationState: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", Message: "listen tcp :8080: address in use"}}},
		{Name: "queue-proxy", Image: "example.com/servekit/queue-proxy:v1"},
	}
	if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, podObj, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("pod status: %v", err)
	}
	waitFor(t, "the restarts", n.ch, func() bool { p := b.Pods(seedKey); return len(p) == 1 && p[0].Restarts == 2 })
	if got := b.Pods(seedKey)[0].LastExit; got != "exit code 1 (Error): listen tcp :8080: address in use" {
		t.Errorf("LastExit = %q", got)
	}

	// A restarted controller applies the same revision again: fine. A revision of the
	// same name but another UID (the first one deleted and made again, issue 15)
	// gets children of its own: those left by the deleted one are replaced. A child
	// of the name that belongs to something else is still refused.
	b2, err := New(Options{Client: cs, QueueImage: "example.com/servekit/queue-proxy:v1", StatsClient: fs})
	if err != nil {
		t.Fatal(err)
	}
	if err := b2.Apply(rev); err != nil {
		t.Errorf("Apply after a restart: %v", err)
	}
	other := rev.DeepCopy()
	other.UID = "another-uid"
	if err := b2.Apply(other); err != nil {
		t.Errorf("Apply of a same-named revision with another UID: %v", err)
	}
	for _, get := range []func() (metav1.Object, error){
		func() (metav1.Object, error) {
			return cs.AppsV1().Deployments("default").Get(ctx, "helloworld-go-00001-deployment", metav1.GetOptions{})
		},
		func() (metav1.Object, error) {
			return cs.CoreV1().Services("default").Get(ctx, "helloworld-go-00001-private", metav1.GetOptions{})
		},
	} {
		obj, err := get()
		if err != nil {
			t.Fatal(err)
		}
		if o := metav1.GetControllerOf(obj); o == nil || o.UID != "another-uid" {
			t.Errorf("%s: controller %+v, want the revision with the other UID", obj.GetName(), o)
		}
	}
	foreign := rev.DeepCopy()
	foreign.Name = "foreign"
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "foreign-deployment", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}}}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := b2.Apply(foreign); err == nil || !strings.Contains(err.Error(), "does not belong to the revision") {
		t.Errorf("Apply of a revision whose Deployment name is taken by a foreign one: %v", err)
	}

	if err := b.Delete(seedKey); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := cs.AppsV1().Deployments("default").Get(ctx, "helloworld-go-00001-deployment", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deployment after Delete: %v", err)
	}
	if _, err := cs.CoreV1().Services("default").Get(ctx, "helloworld-go-00001-private", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("service after Delete: %v", err)
	}
}

// cmpEnvIgnoringAPIVersion compares env vars, ignoring the fieldRef apiVersion the
// API server defaults to "v1".
var cmpEnvIgnoringAPIVersion = cmp.Transformer("fieldPath", func(s *corev1.ObjectFieldSelector) string {
	if s == nil {
		return ""
	}
	return s.FieldPath
})

// storeRevision creates rev as a Revision object in the API server (so that owner
// references to it are real) and sets its UID.
func storeRevision(t *testing.T, cfg *rest.Config, rev *v1.Revision) {
	t.Helper()
	rev.UID = ""
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(rev)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := dynamic.NewForConfigOrDie(cfg).Resource(revGVR).Namespace(rev.Namespace).Create(context.Background(), &unstructured.Unstructured{Object: u}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the Revision %s/%s: %v", rev.Namespace, rev.Name, err)
	}
	rev.UID = stored.GetUID()
}

// TestRealFollowerThenLeader: a follower Backend records a revision and its scales
// and writes nothing; SetLeader(true) creates the Deployment (at the last recorded
// scale), the private Service and the peer-token Secret; a follower again writes
// nothing more.
func TestRealFollowerThenLeader(t *testing.T) {
	cfg := kubetest.Start(t)
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(cfg)
	rev := seedRevision(t)
	storeRevision(t, cfg, rev)

	b, err := New(Options{Client: cs, Namespace: "default", QueueImage: "example.com/servekit/queue-proxy:v1", StatsClient: &fakeStats{},
		Follower: true, PeerToken: testToken, PeerTokenSecret: testTokenSecret})
	if err != nil {
		t.Fatal(err)
	}
	run(t, b, nil)
	if err := b.Apply(rev); err != nil {
		t.Fatalf("follower Apply: %v", err)
	}
	for _, n := range []int{2, 4} {
		if err := b.Scale(seedKey, n); err != nil {
			t.Fatalf("follower Scale(%d): %v", n, err)
		}
	}
	notFound := func(what string, err error) {
		t.Helper()
		if !apierrors.IsNotFound(err) {
			t.Errorf("%s while a follower: %v, want not found", what, err)
		}
	}
	_, err = cs.AppsV1().Deployments("default").Get(ctx, "helloworld-go-00001-deployment", metav1.GetOptions{})
	notFound("deployment", err)
	_, err = cs.CoreV1().Services("default").Get(ctx, "helloworld-go-00001-private", metav1.GetOptions{})
	notFound("private service", err)
	_, err = cs.CoreV1().Secrets("default").Get(ctx, "servekit-peer-token", metav1.GetOptions{})
	notFound("peer-token secret", err)

	b.SetLeader(true)
	var d *appsv1.Deployment
	waitFor(t, "the deployment", nil, func() bool {
		d, err = cs.AppsV1().Deployments("default").Get(ctx, "helloworld-go-00001-deployment", metav1.GetOptions{})
		return err == nil && *d.Spec.Replicas == 4
	})
	if ref := metav1.GetControllerOf(d); ref == nil || ref.UID != rev.UID {
		t.Errorf("deployment controller = %+v, want the Revision %s", ref, rev.UID)
	}
	if _, err := cs.CoreV1().Services("default").Get(ctx, "helloworld-go-00001-private", metav1.GetOptions{}); err != nil {
		t.Errorf("private service after SetLeader(true): %v", err)
	}
	s, err := cs.CoreV1().Secrets("default").Get(ctx, "servekit-peer-token", metav1.GetOptions{})
	if err != nil || string(s.Data["token"]) != testToken || s.Labels[ManagedByLabelKey] != ManagedByValue {
		t.Errorf("peer-token secret after SetLeader(true) = %+v, %v", s, err)
	}

	b.SetLeader(false)
	if err := b.Scale(seedKey, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(seedKey); err != nil {
		t.Fatal(err)
	}
	d, err = cs.AppsV1().Deployments("default").Get(ctx, "helloworld-go-00001-deployment", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 4 {
		t.Errorf("deployment after a follower's Scale(1) and Delete: %v, %v; want it untouched at 4 replicas", d, err)
	}
}

// TestRealPeerTokenRBAC runs the leader Backend as the controller's service account
// with config/deploy/10-rbac.yaml's rules: it creates the peer-token Secret in one
// namespace and updates a stale one in another, along with the revisions' children;
// any other Secret stays out of its reach.
func TestRealPeerTokenRBAC(t *testing.T) {
	cfg := kubetest.Start(t)
	ctx := context.Background()
	admin := kubernetes.NewForConfigOrDie(cfg)
	deploy := filepath.Join("..", "..", "..", "config", "deploy")
	if err := kubetest.ApplyFiles(ctx, cfg, filepath.Join(deploy, "00-namespace.yaml"), filepath.Join(deploy, "10-rbac.yaml")); err != nil {
		t.Fatal(err)
	}
	saClient := kubernetes.NewForConfigOrDie(kubetest.ServiceAccountConfig(cfg, "servekit", "servekit-controller"))

	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	stale := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "servekit-peer-token", Namespace: "team-a"}, Data: map[string][]byte{"token": []byte("stale")}}
	if _, err := admin.CoreV1().Secrets("team-a").Create(ctx, stale, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "database-password", Namespace: "default"}, Data: map[string][]byte{"password": []byte("hunter2")}}
	if _, err := admin.CoreV1().Secrets("default").Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	b, err := New(Options{Client: saClient, QueueImage: "example.com/servekit/queue-proxy:v1", StatsClient: &fakeStats{},
		PeerToken: testToken, PeerTokenSecret: testTokenSecret})
	if err != nil {
		t.Fatal(err)
	}
	run(t, b, nil)
	revA := seedRevision(t)
	storeRevision(t, cfg, revA)
	revB := revisionNamed(t, "helloworld-go-00002")
	revB.Namespace = "team-a"
	storeRevision(t, cfg, revB)
	for _, rev := range []*v1.Revision{revA, revB} {
		if err := b.Apply(rev); err != nil {
			t.Fatalf("Apply %s/%s as the controller: %v", rev.Namespace, rev.Name, err)
		}
		if err := b.Scale(types.NamespacedName{Namespace: rev.Namespace, Name: rev.Name}, 2); err != nil {
			t.Fatalf("Scale %s/%s as the controller: %v", rev.Namespace, rev.Name, err)
		}
		s, err := admin.CoreV1().Secrets(rev.Namespace).Get(ctx, "servekit-peer-token", metav1.GetOptions{})
		if err != nil || string(s.Data["token"]) != testToken || s.Labels[ManagedByLabelKey] != ManagedByValue {
			t.Errorf("peer-token secret in %s = %+v, %v; want the token, labelled", rev.Namespace, s, err)
		}
	}

	// Out of reach: any other Secret.
	secrets := saClient.CoreV1().Secrets("default")
	if _, err := secrets.Get(ctx, "database-password", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("reading another Secret as the controller: %v, want Forbidden", err)
	}
	other.Data["password"] = []byte("changed")
	if _, err := secrets.Update(ctx, other, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("updating another Secret as the controller: %v, want Forbidden", err)
	}
	if _, err := secrets.List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing Secrets as the controller: %v, want Forbidden", err)
	}
	if err := secrets.Delete(ctx, "servekit-peer-token", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("deleting the peer-token Secret as the controller: %v, want Forbidden", err)
	}
}
