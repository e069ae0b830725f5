package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/jsonmergepatch"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"

	"github.com/servekit/servekit/serving/runtime/kube/kubetest"
	"github.com/servekit/servekit/serving/runtime/kube/store"
)

// knUser is the user the kn calls of TestRealKnFlow are made as.
const knUser = "kn-user"

const knImage = "example.com/helloworld-go:v1"

// knService is the Service `kn service create|apply hello --image knImage --env
// TARGET=target` sends: only what the flags say, no defaults (the webhook adds
// them).
func knService(target string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.knative.dev/v1", "kind": "Service",
		"metadata": map[string]any{"name": "hello", "namespace": "default"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{
				"image": knImage,
				"env":   []any{map[string]any{"name": "TARGET", "value": target}},
			}},
		}}},
	}}
}

// knUpdate is `kn service update hello …`: a GET, the flags' change, and an UPDATE
// carrying the GET's resourceVersion, again from the GET on a conflict (the
// controller writes the status meanwhile). It returns the UPDATE's error.
func knUpdate(ctx context.Context, ksvc dynamic.ResourceInterface, change func(*unstructured.Unstructured) error) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := ksvc.Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if err := change(cur); err != nil {
			return err
		}
		_, err = ksvc.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}

// knApply is `kn service apply`: the three-way JSON merge patch of the last
// applied configuration (the kubectl annotation), obj with that annotation, and
// the live object; "{}" sends nothing. changed is kn's verdict: the patched
// object's generation differs from its observedGeneration ("No changes to apply"
// when not). patch is what was sent (nil if nothing).
func knApply(ctx context.Context, t *testing.T, ksvc dynamic.ResourceInterface, obj *unstructured.Unstructured) (changed bool, patch []byte) {
	t.Helper()
	plain, err := json.Marshal(obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	withAnn := obj.DeepCopy()
	withAnn.SetAnnotations(map[string]string{corev1.LastAppliedConfigAnnotation: string(plain)})
	modified, err := json.Marshal(withAnn.Object)
	if err != nil {
		t.Fatal(err)
	}
	live, err := ksvc.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	current, err := json.Marshal(live.Object)
	if err != nil {
		t.Fatal(err)
	}
	patch, err = jsonmergepatch.CreateThreeWayJSONMergePatch([]byte(live.GetAnnotations()[corev1.LastAppliedConfigAnnotation]), modified, current)
	if err != nil {
		t.Fatal(err)
	}
	if string(patch) == "{}" {
		return false, nil
	}
	saved, err := ksvc.Patch(ctx, obj.GetName(), types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("kn service apply: patch %s: %v", patch, err)
	}
	observed, _, _ := unstructured.NestedInt64(saved.Object, "status", "observedGeneration")
	return saved.GetGeneration() != observed, patch
}

// knWaitReady is kn's wait: a watch of the Service until Ready is True at
// observedGeneration == generation (kn stops with the message when Ready is False
// at that generation). It returns the Service and the distinct Ready messages
// seen on the way (kn prints each as a progress line).
func knWaitReady(ctx context.Context, t *testing.T, ksvc dynamic.ResourceInterface, name string) (*unstructured.Unstructured, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var messages []string
	for {
		w, err := ksvc.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
		if err != nil {
			t.Fatalf("kn wait: watch %s: %v", name, err)
		}
		for ev := range w.ResultChan() {
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
			c := conditionOf(u, "Ready")
			if msg, _ := c["message"].(string); msg != "" && (len(messages) == 0 || messages[len(messages)-1] != msg) {
				messages = append(messages, msg)
			}
			if observed != u.GetGeneration() {
				continue
			}
			switch c["status"] {
			case "True":
				w.Stop()
				return u, messages
			case "False":
				w.Stop()
				t.Fatalf("kn wait: %s is not ready: %v: %v", name, c["reason"], c["message"])
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("kn wait: %s not ready after 60s (messages %q)", name, messages)
		}
	}
}

// podReady plays the kubelet and the EndpointSlice controller for revision rev:
// once its private Service exists, a ready endpoint in an EndpointSlice of it.
func podReady(ctx context.Context, t *testing.T, cs kubernetes.Interface, rev, ip string) {
	t.Helper()
	waitFor(t, rev+"-private", func() bool {
		_, err := cs.CoreV1().Services("default").Get(ctx, rev+"-private", metav1.GetOptions{})
		return err == nil
	})
	ready := true
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: rev + "-private-kn", Namespace: "default", Labels: map[string]string{
			discoveryv1.LabelServiceName: rev + "-private", discoveryv1.LabelManagedBy: "servekit-test", "serving.knative.dev/revision": rev,
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: new("http"), Port: new(int32(8012)), Protocol: new(corev1.ProtocolTCP)}},
		Endpoints: []discoveryv1.Endpoint{{
			Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: rev + "-deployment-kn"},
		}},
	}
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Create(ctx, es, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// described is what `kubectl describe` lists under Events for the object with
// that UID: "type reason: message" with the counts.
func described(ctx context.Context, t *testing.T, cs kubernetes.Interface, uid types.UID) map[string]int32 {
	t.Helper()
	list, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.uid=" + string(uid)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int32{}
	for _, e := range list.Items {
		out[e.Type+" "+e.Reason+": "+e.Message] += e.Count
	}
	return out
}

// wantEvents waits for the Events of want on the object with that UID (they are
// recorded asynchronously), then requires exactly those, each with its count:
// nothing recorded twice for resyncs, nothing else.
func wantEvents(ctx context.Context, t *testing.T, cs kubernetes.Interface, what string, uid types.UID, want map[string]int32) {
	t.Helper()
	var got map[string]int32
	waitFor(t, "the Events of "+what, func() bool {
		got = described(ctx, t, cs, uid)
		for k := range want {
			if got[k] == 0 {
				return false
			}
		}
		return true
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kubectl describe %s: Events (-want +got):\n%s", what, diff)
	}
}

// trafficRows is status.traffic as kn shows it: "revision percent% tag url", with
// "@latest" for the target that follows the latest ready revision.
func trafficRows(u *unstructured.Unstructured) []string {
	traffic, _, _ := unstructured.NestedSlice(u.Object, "status", "traffic")
	var rows []string
	for _, tt := range traffic {
		m, _ := tt.(map[string]any)
		latest := ""
		if m["latestRevision"] == true {
			latest = " @latest"
		}
		rows = append(rows, fmt.Sprintf("%v%s %v%% tag=%v url=%v", m["revisionName"], latest, m["percent"], m["tag"], m["url"]))
	}
	return rows
}

// TestRealKnFlow is issue 15's end-to-end check: the API calls Knative's `kn` CLI
// makes, in the order a user types the commands, against the real API server with
// the admission webhooks and the controller running (the webhook registered by
// URL as TestRealAdmission does; the kubelet and the EndpointSlice controller
// played by hand, as no kubelet runs). Each step asserts what kn, `kubectl get`
// and `kubectl describe` would show; docs/kubernetes-cluster.md ("The kn flow")
// shows the same commands with their output.
func TestRealKnFlow(t *testing.T) {
	cfg := kubetest.Start(t)
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(cfg)
	admin := dynamic.NewForConfigOrDie(cfg)
	kubetest.StartWebhook(t, cfg, nil)

	// Events as the controller records them (serving/platform/cluster).
	events := record.NewBroadcaster(record.WithContext(ctx))
	t.Cleanup(events.Shutdown) // after the stack has stopped (cleanups run last first)
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	recorder := events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "servekit-controller"})
	startStack(t, cfg, withIngress, func(o *store.Options) { o.Recorder = recorder })

	// kn, as its own user.
	knCfg := rest.CopyConfig(cfg)
	knCfg.Impersonate = rest.ImpersonationConfig{UserName: knUser, Groups: []string{"system:masters", "system:authenticated"}}
	kn := dynamic.NewForConfigOrDie(knCfg)
	ksvc := kn.Resource(store.ServicesGVR).Namespace("default")
	krev := kn.Resource(store.RevisionsGVR).Namespace("default")

	// kn service create hello --image example.com/helloworld-go:v1 --env TARGET=World
	created, err := ksvc.Create(ctx, knService("World"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("kn service create: %v", err)
	}
	podReady(ctx, t, cs, "hello-00001", "10.244.0.11")
	svc, progress := knWaitReady(ctx, t, ksvc, "hello")
	t.Logf("kn service create: progress %q", progress)
	t.Run("create", func(t *testing.T) {
		for path, want := range map[string]any{
			"status.url":                       "http://hello.default.example.com",
			"status.address.url":               "http://hello.default.svc.cluster.local",
			"status.latestCreatedRevisionName": "hello-00001",
			"status.latestReadyRevisionName":   "hello-00001",
			"metadata.generation":              int64(1),
		} {
			if got, _, _ := unstructured.NestedFieldNoCopy(svc.Object, strings.Split(path, ".")...); got != want {
				t.Errorf("%s = %v, want %v", path, got, want)
			}
		}
		for _, c := range []string{"ConfigurationsReady", "Ready", "RoutesReady"} {
			if s := conditionOf(svc, c); s == nil || s["status"] != "True" {
				t.Errorf("condition %s = %v, want True", c, s)
			}
		}
		if a := svc.GetAnnotations(); a["serving.knative.dev/creator"] != knUser || a["serving.knative.dev/lastModifier"] != knUser {
			t.Errorf("creator, lastModifier = %q, %q; want %s", a["serving.knative.dev/creator"], a["serving.knative.dev/lastModifier"], knUser)
		}
		if diff := cmp.Diff([]string{"hello-00001 @latest 100% tag=<nil> url=<nil>"}, trafficRows(svc)); diff != "" {
			t.Errorf("status.traffic (-want +got):\n%s", diff)
		}
		if ph, err := cs.CoreV1().Services("default").Get(ctx, "hello", metav1.GetOptions{}); err != nil || ph.Spec.ExternalName != testIngress {
			t.Errorf("the placeholder Service hello (status.address.url): %v, %v", ph, err)
		}
	})

	// kn service update hello --env TARGET=Knative
	err = knUpdate(ctx, ksvc, func(u *unstructured.Unstructured) error {
		containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		containers[0].(map[string]any)["env"] = []any{map[string]any{"name": "TARGET", "value": "Knative"}}
		return unstructured.SetNestedSlice(u.Object, containers, "spec", "template", "spec", "containers")
	})
	if err != nil {
		t.Fatalf("kn service update --env: %v", err)
	}
	podReady(ctx, t, cs, "hello-00002", "10.244.0.12")
	svc, progress = knWaitReady(ctx, t, ksvc, "hello")
	t.Logf("kn service update --env: progress %q", progress)
	t.Run("update makes -00002", func(t *testing.T) {
		if g := svc.GetGeneration(); g != 2 {
			t.Errorf("generation = %d, want 2", g)
		}
		if name, _, _ := unstructured.NestedString(svc.Object, "status", "latestReadyRevisionName"); name != "hello-00002" {
			t.Errorf("latestReadyRevisionName = %q, want hello-00002", name)
		}
		if diff := cmp.Diff([]string{"hello-00002 @latest 100% tag=<nil> url=<nil>"}, trafficRows(svc)); diff != "" {
			t.Errorf("status.traffic (-want +got):\n%s", diff)
		}
		rev, err := krev.Get(ctx, "hello-00002", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		containers, _, _ := unstructured.NestedSlice(rev.Object, "spec", "containers")
		if diff := cmp.Diff([]any{map[string]any{"name": "TARGET", "value": "Knative"}}, containers[0].(map[string]any)["env"]); diff != "" {
			t.Errorf("hello-00002 env (-want +got):\n%s", diff)
		}
	})

	// kn service update hello --traffic hello-00001=20,@latest=80 --tag hello-00001=blue
	err = knUpdate(ctx, ksvc, func(u *unstructured.Unstructured) error {
		return unstructured.SetNestedSlice(u.Object, []any{
			map[string]any{"tag": "blue", "revisionName": "hello-00001", "percent": int64(20)},
			map[string]any{"latestRevision": true, "percent": int64(80)},
		}, "spec", "traffic")
	})
	if err != nil {
		t.Fatalf("kn service update --traffic --tag: %v", err)
	}
	svc, progress = knWaitReady(ctx, t, ksvc, "hello")
	t.Logf("kn service update --traffic --tag: progress %q", progress)
	t.Run("traffic and tag", func(t *testing.T) {
		if g := svc.GetGeneration(); g != 3 {
			t.Errorf("generation = %d, want 3", g)
		}
		if name, _, _ := unstructured.NestedString(svc.Object, "status", "latestCreatedRevisionName"); name != "hello-00002" {
			t.Errorf("latestCreatedRevisionName = %q, want hello-00002 (no new revision for a traffic change)", name)
		}
		want := []string{
			"hello-00001 20% tag=blue url=http://blue-hello.default.example.com",
			"hello-00002 @latest 80% tag=<nil> url=<nil>",
		}
		if diff := cmp.Diff(want, trafficRows(svc)); diff != "" {
			t.Errorf("status.traffic (-want +got):\n%s", diff)
		}
		rt, err := get(ctx, admin, store.RoutesGVR, "hello")
		if err != nil {
			t.Fatal(err)
		}
		var ph *corev1.Service
		waitFor(t, "the tag's placeholder Service blue-hello", func() bool {
			ph, err = cs.CoreV1().Services("default").Get(ctx, "blue-hello", metav1.GetOptions{})
			return err == nil
		})
		if ph.Spec.ExternalName != testIngress {
			t.Errorf("blue-hello: ExternalName %q, want %q", ph.Spec.ExternalName, testIngress)
		}
		if o := metav1.GetControllerOf(ph); o == nil || o.UID != rt.GetUID() {
			t.Errorf("blue-hello: controller %v, want the Route's UID %s", o, rt.GetUID())
		}
	})

	// kn revision list / kn revision describe hello-00001
	rev1, err := krev.Get(ctx, "hello-00001", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("revision list and describe", func(t *testing.T) {
		list, err := krev.List(ctx, metav1.ListOptions{LabelSelector: "serving.knative.dev/service=hello"})
		if err != nil {
			t.Fatal(err)
		}
		// kn's columns: NAME SERVICE TRAFFIC TAGS GENERATION CONDITIONS READY
		// REASON (AGE from creationTimestamp). TRAFFIC and TAGS come from the
		// Service's status.traffic; CONDITIONS counts the True conditions.
		percent, tags := map[string]int64{}, map[string]string{}
		traffic, _, _ := unstructured.NestedSlice(svc.Object, "status", "traffic")
		for _, tt := range traffic {
			m := tt.(map[string]any)
			name, _ := m["revisionName"].(string)
			p, _ := m["percent"].(int64)
			percent[name] += p
			if tag, _ := m["tag"].(string); tag != "" {
				tags[name] = tag
			}
		}
		var rows []string
		for _, r := range list.Items {
			if ts := r.GetCreationTimestamp(); ts.IsZero() {
				t.Errorf("%s: no creationTimestamp (AGE)", r.GetName())
			}
			ok := 0
			conds, _, _ := unstructured.NestedSlice(r.Object, "status", "conditions")
			for _, c := range conds {
				if c.(map[string]any)["status"] == "True" {
					ok++
				}
			}
			for _, typ := range []string{"Ready", "Active", "ContainerHealthy", "ResourcesAvailable"} {
				if conditionOf(&r, typ) == nil {
					t.Errorf("%s: no %s condition (kn revision describe lists it)", r.GetName(), typ)
				}
			}
			ready := conditionOf(&r, "Ready")
			rows = append(rows, fmt.Sprintf("%s %s %d%% %s %s %d OK / %d %v %v", r.GetName(), r.GetLabels()["serving.knative.dev/service"],
				percent[r.GetName()], tags[r.GetName()], r.GetLabels()["serving.knative.dev/configurationGeneration"], ok, len(conds), ready["status"], ready["reason"]))
		}
		t.Logf("kn revision list:\n%s", strings.Join(rows, "\n"))
		want := []string{
			"hello-00001 hello 20% blue 1 4 OK / 4 True <nil>",
			"hello-00002 hello 80%  2 4 OK / 4 True <nil>",
		}
		if diff := cmp.Diff(want, rows); diff != "" {
			t.Errorf("kn revision list (-want +got):\n%s", diff)
		}
		// kn revision describe: image, env and the creator from the Revision.
		containers, _, _ := unstructured.NestedSlice(rev1.Object, "spec", "containers")
		c := containers[0].(map[string]any)
		if c["image"] != knImage || !cmp.Equal(c["env"], []any{map[string]any{"name": "TARGET", "value": "World"}}) {
			t.Errorf("hello-00001: image %v env %v", c["image"], c["env"])
		}
		if a := rev1.GetAnnotations()["serving.knative.dev/creator"]; a != knUser {
			t.Errorf("hello-00001 creator = %q, want %s", a, knUser)
		}
	})

	t.Run("events", func(t *testing.T) {
		cfgObj, err := get(ctx, admin, store.ConfigurationsGVR, "hello")
		if err != nil {
			t.Fatal(err)
		}
		rev2, err := krev.Get(ctx, "hello-00002", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wantEvents(ctx, t, cs, "ksvc hello", created.GetUID(), map[string]int32{
			`Normal Created: Created Configuration "hello"`: 1,
			`Normal Created: Created Route "hello"`:         1,
		})
		wantEvents(ctx, t, cs, "configuration hello", cfgObj.GetUID(), map[string]int32{
			`Normal Created: Created Revision "hello-00001"`:                             1,
			`Normal Created: Created Revision "hello-00002"`:                             1,
			`Normal ConfigurationReady: Configuration becomes ready`:                     1,
			`Normal LatestReadyUpdate: LatestReadyRevisionName updated to "hello-00001"`: 1,
			`Normal LatestReadyUpdate: LatestReadyRevisionName updated to "hello-00002"`: 1,
		})
		for _, r := range []*unstructured.Unstructured{rev1, rev2} {
			wantEvents(ctx, t, cs, "revision "+r.GetName(), r.GetUID(), map[string]int32{
				`Normal RevisionReady: Revision becomes ready upon all resources being ready`: 1,
			})
		}
	})

	// kn revision delete hello-00001 (tagged, 20% of the traffic)
	dep1, err := cs.AppsV1().Deployments("default").Get(ctx, "hello-00001-deployment", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	priv1, err := cs.CoreV1().Services("default").Get(ctx, "hello-00001-private", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := krev.Delete(ctx, "hello-00001", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("kn revision delete: %v", err)
	}
	t.Run("revision delete", func(t *testing.T) {
		// Owned by the deleted Revision: Kubernetes' garbage collector would
		// delete them, and the controller does.
		for _, o := range []metav1.Object{dep1, priv1} {
			if c := metav1.GetControllerOf(o); c == nil || c.UID != rev1.GetUID() {
				t.Errorf("%s: controller %v, want the Revision's UID %s", o.GetName(), c, rev1.GetUID())
			}
		}
		const missing = `Revision "hello-00001" referenced in traffic not found.`
		// The Route's and the Service's statuses are separate writes: wait for
		// both (kn reads the Service; kubectl get route, the Route).
		var got, rt *unstructured.Unstructured
		waitFor(t, "the Service and the Route reporting hello-00001 missing", func() bool {
			var err1, err2 error
			got, err1 = ksvc.Get(ctx, "hello", metav1.GetOptions{})
			rt, err2 = get(ctx, admin, store.RoutesGVR, "hello")
			if err1 != nil || err2 != nil {
				return false
			}
			c, rc := conditionOf(got, "Ready"), conditionOf(rt, "AllTrafficAssigned")
			return c != nil && c["status"] == "False" && rc != nil && rc["status"] == "False"
		})
		for what, c := range map[string]map[string]any{
			"Route AllTrafficAssigned": conditionOf(rt, "AllTrafficAssigned"),
			"Service RoutesReady":      conditionOf(got, "RoutesReady"),
			"Service Ready":            conditionOf(got, "Ready"),
		} {
			if c["status"] != "False" || c["reason"] != "RevisionMissing" || c["message"] != missing {
				t.Errorf("%s = %v %v %q; want False RevisionMissing %q", what, c["status"], c["reason"], c["message"], missing)
			}
		}
		if c := conditionOf(got, "ConfigurationsReady"); c["status"] != "True" {
			t.Errorf("Service ConfigurationsReady = %v, want True (the Configuration is fine)", c)
		}
		waitFor(t, "the Deployment and private Service of hello-00001 gone", func() bool {
			_, err1 := cs.AppsV1().Deployments("default").Get(ctx, "hello-00001-deployment", metav1.GetOptions{})
			_, err2 := cs.CoreV1().Services("default").Get(ctx, "hello-00001-private", metav1.GetOptions{})
			return apierrors.IsNotFound(err1) && apierrors.IsNotFound(err2)
		})
		// It stays deleted: twenty resyncs of the stack later it is still gone.
		for range 20 {
			if _, err := krev.Get(ctx, "hello-00001", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Fatalf("hello-00001 came back (%v)", err)
			}
			time.Sleep(100 * time.Millisecond) // one SyncInterval of the stack
		}
	})

	// kn service apply hello --image … --env TARGET=Knative --traffic @latest=100, twice.
	applied := knService("Knative")
	if err := unstructured.SetNestedSlice(applied.Object, []any{map[string]any{"latestRevision": true, "percent": int64(100)}}, "spec", "traffic"); err != nil {
		t.Fatal(err)
	}
	changed, _ := knApply(ctx, t, ksvc, applied)
	if !changed {
		t.Errorf("first kn service apply: no change; want the traffic changed (generation 4)")
	}
	svc, progress = knWaitReady(ctx, t, ksvc, "hello")
	t.Logf("kn service apply (first): progress %q", progress)
	t.Run("apply twice", func(t *testing.T) {
		if g := svc.GetGeneration(); g != 4 {
			t.Errorf("generation after the first apply = %d, want 4", g)
		}
		if diff := cmp.Diff([]string{"hello-00002 @latest 100% tag=<nil> url=<nil>"}, trafficRows(svc)); diff != "" {
			t.Errorf("status.traffic (-want +got):\n%s", diff)
		}
		changed, patch := knApply(ctx, t, ksvc, applied)
		if changed {
			t.Errorf("second kn service apply (patch %s) changed the Service; want \"No changes to apply\"", patch)
		}
		again, err := ksvc.Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if again.GetGeneration() != 4 {
			t.Errorf("generation after the second apply = %d, want 4", again.GetGeneration())
		}
		if name, _, _ := unstructured.NestedString(again.Object, "status", "latestCreatedRevisionName"); name != "hello-00002" {
			t.Errorf("latestCreatedRevisionName = %q, want hello-00002 (no new revision)", name)
		}
		// kubectl diff: a server-side dry run of the same apply, client-side
		// (the merge patch) and server-side, leaves the spec as it is.
		if patch != nil {
			dry, err := ksvc.Patch(ctx, "hello", types.MergePatchType, patch, metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil || !cmp.Equal(dry.Object["spec"], again.Object["spec"]) || dry.GetGeneration() != 4 {
				t.Errorf("dry-run of the apply patch differs from the live Service (%v):\n%s", err, cmp.Diff(again.Object["spec"], dry.Object["spec"]))
			}
		}
		body, err := json.Marshal(applied.Object)
		if err != nil {
			t.Fatal(err)
		}
		force := true
		dry, err := ksvc.Patch(ctx, "hello", types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "kn", Force: &force, DryRun: []string{metav1.DryRunAll}})
		if err != nil || !cmp.Equal(dry.Object["spec"], again.Object["spec"]) || dry.GetGeneration() != 4 {
			t.Errorf("server-side dry-run apply differs from the live Service (%v):\n%s", err, cmp.Diff(again.Object["spec"], dry.Object["spec"]))
		}
		// The tag is gone, and its placeholder Service with it.
		waitFor(t, "blue-hello deleted", func() bool {
			_, err := cs.CoreV1().Services("default").Get(ctx, "blue-hello", metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
	})

	// kn service update hello --concurrency-limit 5000 (over the maximum, 1000)
	t.Run("invalid update refused", func(t *testing.T) {
		err := knUpdate(ctx, ksvc, func(u *unstructured.Unstructured) error {
			return unstructured.SetNestedField(u.Object, int64(5000), "spec", "template", "spec", "containerConcurrency")
		})
		const refusal = `admission webhook "validation.webhook.serving.knative.dev" denied the request: validation failed: expected 0 <= 5000 <= 1000: spec.template.spec.containerConcurrency`
		if err == nil || !strings.Contains(err.Error(), refusal) {
			t.Fatalf("invalid update: %v; want %q", err, refusal)
		}
		t.Logf("kn service update --concurrency-limit 5000: %v", err)
		got, err := ksvc.Get(ctx, "hello", metav1.GetOptions{})
		if err != nil || got.GetGeneration() != 4 {
			t.Errorf("after the refused update: generation %d (%v), want 4", got.GetGeneration(), err)
		}
	})

	// kn service delete hello
	cfgUID := func() types.UID {
		c, err := get(ctx, admin, store.ConfigurationsGVR, "hello")
		if err != nil {
			return ""
		}
		return c.GetUID()
	}
	oldCfg := cfgUID()
	background := metav1.DeletePropagationBackground
	if err := ksvc.Delete(ctx, "hello", metav1.DeleteOptions{PropagationPolicy: &background}); err != nil {
		t.Fatalf("kn service delete: %v", err)
	}
	t.Run("service delete", func(t *testing.T) {
		waitFor(t, "everything of hello gone", func() bool {
			collectGarbage(t, admin, cs) // Kubernetes' garbage collector, played
			for _, c := range []struct {
				res  dynamic.ResourceInterface
				name string
			}{
				{ksvc, "hello"},
				{admin.Resource(store.ConfigurationsGVR).Namespace("default"), "hello"},
				{admin.Resource(store.RoutesGVR).Namespace("default"), "hello"},
				{krev, "hello-00002"},
			} {
				if _, err := c.res.Get(ctx, c.name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					return false
				}
			}
			deps, err := cs.AppsV1().Deployments("default").List(ctx, metav1.ListOptions{})
			if err != nil || len(deps.Items) > 0 {
				return false
			}
			svcs, err := cs.CoreV1().Services("default").List(ctx, metav1.ListOptions{LabelSelector: "serving.knative.dev/route"})
			if err != nil || len(svcs.Items) > 0 {
				return false
			}
			for _, n := range []string{"hello-00002-private", "hello"} {
				if _, err := cs.CoreV1().Services("default").Get(ctx, n, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					return false
				}
			}
			return true
		})
		// The EndpointSlice controller deletes the slices of a deleted Service.
		if err := cs.DiscoveryV1().EndpointSlices("default").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: discoveryv1.LabelManagedBy + "=servekit-test"}); err != nil {
			t.Fatal(err)
		}
	})

	// kn service create hello … again, at once.
	again, err := ksvc.Create(ctx, knService("World"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("kn service create after delete: %v", err)
	}
	podReady(ctx, t, cs, "hello-00001", "10.244.0.13")
	svc, _ = knWaitReady(ctx, t, ksvc, "hello")
	t.Run("re-create", func(t *testing.T) {
		if svc.GetUID() != again.GetUID() || svc.GetGeneration() != 1 {
			t.Errorf("re-created Service: uid %s generation %d; want %s, 1", svc.GetUID(), svc.GetGeneration(), again.GetUID())
		}
		if newCfg := cfgUID(); newCfg == "" || newCfg == oldCfg {
			t.Errorf("Configuration UID %q, want a new one (old %s)", newCfg, oldCfg)
		}
		rev, err := krev.Get(ctx, "hello-00001", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rev.GetUID() == rev1.GetUID() {
			t.Error("hello-00001 has the deleted Revision's UID")
		}
		d, err := cs.AppsV1().Deployments("default").Get(ctx, "hello-00001-deployment", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if c := metav1.GetControllerOf(d); c == nil || c.UID != rev.GetUID() {
			t.Errorf("hello-00001-deployment: controller %v, want the new Revision %s", c, rev.GetUID())
		}
		wantEvents(ctx, t, cs, "the new ksvc hello", again.GetUID(), map[string]int32{
			`Normal Created: Created Configuration "hello"`: 1,
			`Normal Created: Created Route "hello"`:         1,
		})
	})
}
