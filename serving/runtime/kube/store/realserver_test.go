package store_test

// Tests against a real kube-apiserver and etcd (serving/runtime/kube/kubetest).
// They skip when hack/testbin.sh has not built the binaries, unless
// SERVEKIT_REQUIRE_APISERVER=1. No kube-controller-manager runs there, so Kubernetes'
// garbage collector never acts: the tests assert the owner references it would follow,
// and that the store deletes the children the controller drops.

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/yaml"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/runtime/kube"
	"github.com/servekit/servekit/serving/runtime/kube/kubetest"
	"github.com/servekit/servekit/serving/runtime/kube/leader"
	"github.com/servekit/servekit/serving/runtime/kube/store"
)

// noStats never scrapes: the pod IPs of the test are not on this machine.
type noStats struct{}

func (noStats) ScrapeStat(context.Context, string) (autoscaler.Stat, error) {
	return autoscaler.Stat{}, context.Canceled
}

func seed(t *testing.T) *unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile("testdata/helloworld-go.yaml")
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(b, &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

// waitFor polls an observed condition until it holds or 60s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // poll interval of an observed condition
	}
}

func get(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, name string) (*unstructured.Unstructured, error) {
	return dyn.Resource(gvr).Namespace("default").Get(ctx, name, metav1.GetOptions{})
}

func controllerRef(t *testing.T, kind, name string, uid types.UID) []metav1.OwnerReference {
	t.Helper()
	yes := true
	return []metav1.OwnerReference{{APIVersion: "serving.knative.dev/v1", Kind: kind, Name: name, UID: uid, Controller: &yes, BlockOwnerDeletion: &yes}}
}

func TestRealSeedServiceThroughTheAPIServer(t *testing.T) {
	cfg := kubetest.Start(t)
	seedFlow(t, cfg, cfg)
}

// TestRealLeastPrivilegeRBAC installs config/deploy (namespace, RBAC, controller
// Deployment and Service: the real server accepts them) and runs the whole seed flow
// and a leader election as the controller's service account: the ClusterRole and Role
// grant everything the controller does, or a write fails and the flow times out.
func TestRealLeastPrivilegeRBAC(t *testing.T) {
	cfg := kubetest.Start(t)
	files, err := filepath.Glob("../../../../config/deploy/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in config/deploy: %v", err)
	}
	if err := kubetest.ApplyFiles(context.Background(), cfg, files...); err != nil {
		t.Fatal(err)
	}
	sa := kubetest.ServiceAccountConfig(cfg, "servekit", "servekit-controller")
	// The service account may not do more than it needs: no Secret can be listed,
	// watched or read, until a namespace binds servekit-domainmapping-secrets to it
	// for its DomainMappings' TLS Secrets; then it reads one by name.
	saSecrets := kubernetes.NewForConfigOrDie(sa).CoreV1().Secrets("default")
	if _, err := saSecrets.List(context.Background(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing Secrets as the controller = %v, want Forbidden", err)
	}
	if _, err := saSecrets.Watch(context.Background(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("watching Secrets as the controller = %v, want Forbidden", err)
	}
	admin := kubernetes.NewForConfigOrDie(cfg)
	tlsSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hello-tls", Namespace: "default"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: []byte("crt"), corev1.TLSPrivateKeyKey: []byte("key")}}
	if _, err := admin.CoreV1().Secrets("default").Create(context.Background(), tlsSecret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := saSecrets.Get(context.Background(), "hello-tls", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("reading a Secret as the controller, no RoleBinding = %v, want Forbidden", err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "servekit-domainmapping-secrets", Namespace: "default"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "servekit-domainmapping-secrets"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "servekit", Name: "servekit-controller"}}}
	if _, err := admin.RbacV1().RoleBindings("default").Create(context.Background(), rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the TLS Secret readable by name once bound", func() bool {
		got, err := saSecrets.Get(context.Background(), "hello-tls", metav1.GetOptions{})
		return err == nil && string(got.Data[corev1.TLSCertKey]) == "crt"
	})
	if _, err := saSecrets.List(context.Background(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing Secrets as the controller with the RoleBinding = %v, want Forbidden", err)
	}
	led := false
	err = leader.Run(context.Background(), leader.Options{
		Client: kubernetes.NewForConfigOrDie(sa), Namespace: "servekit", Name: "servekit-controller", Identity: "test",
		LeaseDuration: 2 * time.Second, RenewDeadline: time.Second, RetryPeriod: 100 * time.Millisecond,
	}, func(context.Context) error { led = true; return nil })
	if err != nil || !led {
		t.Errorf("leader election as the controller: err %v, led %v", err, led)
	}
	seedFlow(t, cfg, sa)
}

// seedFlow runs the controller, its kube backend and the store with runCfg's identity
// and checks, with the admin config, what the seed Service becomes.
func seedFlow(t *testing.T, cfg, runCfg *rest.Config) {
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(cfg)
	cs := kubernetes.NewForConfigOrDie(cfg)

	backend, err := kube.New(kube.Options{Client: kubernetes.NewForConfigOrDie(runCfg), Namespace: "default", QueueImage: "example.com/servekit/queue-proxy:v1", StatsClient: noStats{}})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	wrapped := store.NewBackend(backend)
	ctrl, err := controller.New(controller.Options{Backend: wrapped, ResyncInterval: 100 * time.Millisecond, Logger: log, SourceGenerations: true})
	if err != nil {
		t.Fatal(err)
	}
	// Events as the controller records them (serving/platform/cluster), with its
	// identity (RBAC).
	runCtx, cancel := context.WithCancel(ctx)
	events := record.NewBroadcaster(record.WithContext(runCtx))
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kubernetes.NewForConfigOrDie(runCfg).CoreV1().Events("")})
	recorder := events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "servekit-controller"})
	st, err := store.New(store.Options{Client: dynamic.NewForConfigOrDie(runCfg), Controller: ctrl, Backend: wrapped, Namespace: "default", SyncInterval: 100 * time.Millisecond, Logger: log, IngressName: testIngress,
		Recorder: recorder})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	go func() { done <- ctrl.Run(runCtx) }()
	go func() { done <- st.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
		events.Shutdown()
	})

	// The admission webhooks, as the controller runs them, with its identity.
	kubetest.StartWebhook(t, cfg, runCfg)

	// The seed, unchanged, through the dynamic client.
	svc, err := dyn.Resource(store.ServicesGVR).Namespace("default").Create(ctx, seed(t), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the seed Service: %v", err)
	}

	t.Run("children with owner references", func(t *testing.T) {
		var cfgObj, rt, rev *unstructured.Unstructured
		waitFor(t, "Configuration, Route and Revision", func() bool {
			cfgObj, _ = get(ctx, dyn, store.ConfigurationsGVR, "helloworld-go")
			rt, _ = get(ctx, dyn, store.RoutesGVR, "helloworld-go")
			rev, _ = get(ctx, dyn, store.RevisionsGVR, "helloworld-go-00001")
			return cfgObj != nil && rt != nil && rev != nil
		})
		if diff := cmp.Diff(controllerRef(t, "Service", "helloworld-go", svc.GetUID()), cfgObj.GetOwnerReferences()); diff != "" {
			t.Errorf("Configuration owner (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(controllerRef(t, "Service", "helloworld-go", svc.GetUID()), rt.GetOwnerReferences()); diff != "" {
			t.Errorf("Route owner (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(controllerRef(t, "Configuration", "helloworld-go", cfgObj.GetUID()), rev.GetOwnerReferences()); diff != "" {
			t.Errorf("Revision owner (-want +got):\n%s", diff)
		}
		// The Route's placeholder Service (with runCfg's rights: RBAC).
		var ph *corev1.Service
		waitFor(t, "the Route's placeholder Service", func() bool {
			ph, _ = cs.CoreV1().Services("default").Get(ctx, "helloworld-go", metav1.GetOptions{})
			return ph != nil && ph.Name != ""
		})
		if diff := cmp.Diff(controllerRef(t, "Route", "helloworld-go", rt.GetUID()), ph.OwnerReferences); diff != "" {
			t.Errorf("placeholder Service owner (-want +got):\n%s", diff)
		}
		if ph.Spec.Type != corev1.ServiceTypeExternalName || ph.Spec.ExternalName != testIngress {
			t.Errorf("placeholder Service is %s %q, want ExternalName %q", ph.Spec.Type, ph.Spec.ExternalName, testIngress)
		}
		labels := map[string]string{"app": "helloworld-go", "serving.knative.dev/service": "helloworld-go", "serving.knative.dev/configuration": "helloworld-go"}
		for k, v := range labels {
			if got := rev.GetLabels()[k]; got != v {
				t.Errorf("revision label %s = %q, want %q", k, got, v)
			}
		}
		image, _, _ := unstructured.NestedSlice(rev.Object, "spec", "containers")
		if len(image) != 1 || image[0].(map[string]any)["image"] != "registry.cn-hangzhou.aliyuncs.com/knative-sample/helloworld-go:160e4dc8" {
			t.Errorf("revision containers = %v", image)
		}
		if a := rev.GetAnnotations()["autoscaling.knative.dev/target"]; a != "10" {
			t.Errorf("revision target annotation = %q, want 10", a)
		}
		traffic, _, _ := unstructured.NestedSlice(rt.Object, "spec", "traffic")
		if diff := cmp.Diff([]any{map[string]any{"configurationName": "helloworld-go", "latestRevision": true, "percent": int64(100)}}, traffic); diff != "" {
			t.Errorf("route traffic (-want +got):\n%s", diff)
		}
		// The backend's Deployment exists, owned by the API server's Revision.
		var d *appsv1.Deployment
		waitFor(t, "the Deployment", func() bool {
			d, err = cs.AppsV1().Deployments("default").Get(ctx, "helloworld-go-00001-deployment", metav1.GetOptions{})
			return err == nil
		})
		if ref := metav1.GetControllerOf(d); ref == nil || ref.UID != rev.GetUID() {
			t.Errorf("deployment controller = %+v, want the Revision's UID %s", ref, rev.GetUID())
		}
	})

	t.Run("status written", func(t *testing.T) {
		waitFor(t, "Service status", func() bool {
			got, err := get(ctx, dyn, store.ServicesGVR, "helloworld-go")
			if err != nil {
				return false
			}
			name, _, _ := unstructured.NestedString(got.Object, "status", "latestCreatedRevisionName")
			gen, _, _ := unstructured.NestedInt64(got.Object, "status", "observedGeneration")
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			return name == "helloworld-go-00001" && gen == got.GetGeneration() && len(conds) == 3
		})
		got, _ := get(ctx, dyn, store.ServicesGVR, "helloworld-go")
		url, _, _ := unstructured.NestedString(got.Object, "status", "url")
		if url != "http://helloworld-go.default.example.com" {
			t.Errorf("status.url = %q", url)
		}
		if ready := condition(got, "Ready"); ready != "Unknown" {
			t.Errorf("Ready before any pod = %q, want Unknown", ready)
		}
	})

	t.Run("defaults at admission", func(t *testing.T) {
		// The webhook defaulted the Service as it was created: generation 1
		// holds the defaults, and the controller observes that generation.
		var got *unstructured.Unstructured
		waitFor(t, "the Service observed at generation 1", func() bool {
			got, _ = get(ctx, dyn, store.ServicesGVR, "helloworld-go")
			gen, _, _ := unstructured.NestedInt64(got.Object, "status", "observedGeneration")
			return got != nil && gen == 1
		})
		if got.GetGeneration() != 1 {
			t.Errorf("generation = %d, want 1 (no write-back)", got.GetGeneration())
		}
		timeout, _, _ := unstructured.NestedInt64(got.Object, "spec", "template", "spec", "timeoutSeconds")
		traffic, _, _ := unstructured.NestedSlice(got.Object, "spec", "traffic")
		if timeout != 300 {
			t.Errorf("spec.template.spec.timeoutSeconds = %d, want the default 300", timeout)
		}
		if diff := cmp.Diff([]any{map[string]any{"latestRevision": true, "percent": int64(100)}}, traffic); diff != "" {
			t.Errorf("spec.traffic (-want +got):\n%s", diff)
		}
		revs, err := dyn.Resource(store.RevisionsGVR).Namespace("default").List(ctx, metav1.ListOptions{})
		if err != nil || len(revs.Items) != 1 {
			t.Errorf("revisions = %d (%v), want 1", len(revs.Items), err)
		}
	})

	t.Run("a DomainMapping", func(t *testing.T) {
		dms := dyn.Resource(store.DomainMappingsGVR).Namespace("default")
		dm := func(host, svc string) *unstructured.Unstructured {
			return &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "serving.knative.dev/v1beta1", "kind": "DomainMapping",
				"metadata": map[string]any{"name": host},
				"spec":     map[string]any{"ref": map[string]any{"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": svc}},
			}}
		}
		// The validating webhook refuses a host that is not a domain name.
		if _, err := dms.Create(ctx, dm("hello", "helloworld-go"), metav1.CreateOptions{}); err == nil ||
			!strings.Contains(err.Error(), `invalid name "hello"`) || !strings.Contains(err.Error(), "metadata.name") {
			t.Errorf("creating DomainMapping hello = %v, want refused: invalid name \"hello\" ... metadata.name", err)
		}
		if _, err := dms.Create(ctx, dm("hello.example.com", "helloworld-go"), metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating DomainMapping hello.example.com: %v", err)
		}
		if _, err := dms.Create(ctx, dm("nope.example.com", "nope"), metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating DomainMapping nope.example.com: %v", err)
		}
		cond := func(u *unstructured.Unstructured, typ string) (status, reason, message string) {
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == typ {
					status, _ = m["status"].(string)
					reason, _ = m["reason"].(string)
					message, _ = m["message"].(string)
				}
			}
			return status, reason, message
		}
		var got *unstructured.Unstructured
		waitFor(t, "hello.example.com claimed and resolved", func() bool {
			got, _ = dms.Get(ctx, "hello.example.com", metav1.GetOptions{})
			if got == nil {
				return false
			}
			claimed, _, _ := cond(got, "DomainClaimed")
			resolved, _, _ := cond(got, "ReferenceResolved")
			gen, _, _ := unstructured.NestedInt64(got.Object, "status", "observedGeneration")
			return claimed == "True" && resolved == "True" && gen == got.GetGeneration()
		})
		url, _, _ := unstructured.NestedString(got.Object, "status", "url")
		addr, _, _ := unstructured.NestedString(got.Object, "status", "address", "url")
		refNS, _, _ := unstructured.NestedString(got.Object, "spec", "ref", "namespace")
		if url != "http://hello.example.com" || addr != url || refNS != "default" || got.GetAnnotations()["serving.knative.dev/creator"] == "" {
			t.Errorf("DomainMapping: status.url %q, address.url %q, spec.ref.namespace %q (defaulted), creator %q; want http://hello.example.com twice, default, set",
				url, addr, refNS, got.GetAnnotations()["serving.knative.dev/creator"])
		}
		if st, reason, _ := cond(got, "CertificateProvisioned"); st != "True" || reason != "TLSNotEnabled" {
			t.Errorf("CertificateProvisioned = %s %s, want True TLSNotEnabled", st, reason)
		}
		waitFor(t, "nope.example.com not resolved", func() bool {
			got, _ = dms.Get(ctx, "nope.example.com", metav1.GetOptions{})
			st, _, _ := cond(got, "ReferenceResolved")
			return got != nil && st == "False"
		})
		if _, reason, msg := cond(got, "ReferenceResolved"); reason != "ResolveFailed" ||
			msg != `failed to get object default/nope: services.serving.knative.dev "nope" not found` {
			t.Errorf("ReferenceResolved of a ref to a missing Service: %s %q", reason, msg)
		}
		if st, reason, _ := cond(got, "Ready"); st != "False" || reason != "ResolveFailed" {
			t.Errorf("Ready of a ref to a missing Service: %s %s, want False ResolveFailed", st, reason)
		}
	})

	t.Run("an EndpointSlice makes the revision Ready", func(t *testing.T) {
		labels := map[string]string{discoveryv1.LabelServiceName: "helloworld-go-00001-private", discoveryv1.LabelManagedBy: "servekit-test",
			"serving.knative.dev/revision": "helloworld-go-00001"}
		ready := true
		es := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "helloworld-go-00001-private-abcde", Namespace: "default", Labels: labels},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: new("http"), Port: new(int32(8012)), Protocol: new(corev1.ProtocolTCP)}},
			Endpoints: []discoveryv1.Endpoint{{
				Addresses:  []string{"10.244.0.7"},
				Conditions: discoveryv1.EndpointConditions{Ready: &ready},
				TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "helloworld-go-00001-deployment-7d9f-abcde"},
			}},
		}
		if _, err := cs.DiscoveryV1().EndpointSlices("default").Create(ctx, es, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "Revision and Service Ready in the API server", func() bool {
			rev, err1 := get(ctx, dyn, store.RevisionsGVR, "helloworld-go-00001")
			svc, err2 := get(ctx, dyn, store.ServicesGVR, "helloworld-go")
			return err1 == nil && err2 == nil && condition(rev, "Ready") == "True" && condition(svc, "Ready") == "True"
		})
		got, _ := get(ctx, dyn, store.ServicesGVR, "helloworld-go")
		if name, _, _ := unstructured.NestedString(got.Object, "status", "latestReadyRevisionName"); name != "helloworld-go-00001" {
			t.Errorf("latestReadyRevisionName = %q", name)
		}
	})

	t.Run("a changed template makes -00002", func(t *testing.T) {
		setTarget(t, dyn, "Kubernetes")
		var rev *unstructured.Unstructured
		waitFor(t, "helloworld-go-00002", func() bool {
			rev, _ = get(ctx, dyn, store.RevisionsGVR, "helloworld-go-00002")
			return rev != nil
		})
		env, _, _ := unstructured.NestedSlice(rev.Object, "spec", "containers")
		if diff := cmp.Diff([]any{map[string]any{"name": "TARGET", "value": "Kubernetes"}}, env[0].(map[string]any)["env"]); diff != "" {
			t.Errorf("-00002 env (-want +got):\n%s", diff)
		}
		waitFor(t, "the Service to observe generation 2 and create -00002", func() bool {
			got, err := get(ctx, dyn, store.ServicesGVR, "helloworld-go")
			if err != nil {
				return false
			}
			name, _, _ := unstructured.NestedString(got.Object, "status", "latestCreatedRevisionName")
			gen, _, _ := unstructured.NestedInt64(got.Object, "status", "observedGeneration")
			return name == "helloworld-go-00002" && gen == 2 && got.GetGeneration() == 2
		})
	})

	t.Run("events", func(t *testing.T) {
		cfgObj, err := get(ctx, dyn, store.ConfigurationsGVR, "helloworld-go")
		if err != nil {
			t.Fatal(err)
		}
		// What kubectl describe shows: the Events whose involvedObject is the
		// object's UID, by "type reason: message" with their counts.
		described := func(uid types.UID) map[string]int32 {
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
		for _, c := range []struct {
			what string
			uid  types.UID
			want map[string]int32
		}{
			{"the Service", svc.GetUID(), map[string]int32{
				`Normal Created: Created Configuration "helloworld-go"`: 1,
				`Normal Created: Created Route "helloworld-go"`:         1,
			}},
			{"the Configuration", cfgObj.GetUID(), map[string]int32{
				`Normal Created: Created Revision "helloworld-go-00001"`:                             1,
				`Normal Created: Created Revision "helloworld-go-00002"`:                             1,
				`Normal ConfigurationReady: Configuration becomes ready`:                             1,
				`Normal LatestReadyUpdate: LatestReadyRevisionName updated to "helloworld-go-00001"`: 1,
			}},
		} {
			// Recorded asynchronously: wait for them all, then compare (each
			// once, though the store wrote every object many times since, at
			// 100ms, and nothing else: no Warning).
			var got map[string]int32
			waitFor(t, "the Events of "+c.what, func() bool {
				got = described(c.uid)
				for k := range c.want {
					if got[k] == 0 {
						return false
					}
				}
				return true
			})
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("Events of %s (-want +got):\n%s", c.what, diff)
			}
		}
	})

	t.Run("deleting the Service deletes its children", func(t *testing.T) {
		if err := dyn.Resource(store.ServicesGVR).Namespace("default").Delete(ctx, "helloworld-go", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		// No garbage collector runs in the test server: the store deletes what the
		// controller dropped (on a cluster the owner references above do it too).
		waitFor(t, "children gone", func() bool {
			for _, c := range []struct {
				gvr  schema.GroupVersionResource
				name string
			}{
				{store.ConfigurationsGVR, "helloworld-go"}, {store.RoutesGVR, "helloworld-go"},
				{store.RevisionsGVR, "helloworld-go-00001"}, {store.RevisionsGVR, "helloworld-go-00002"},
			} {
				if _, err := get(ctx, dyn, c.gvr, c.name); !apierrors.IsNotFound(err) {
					return false
				}
			}
			return true
		})
		waitFor(t, "the controller forgets it", func() bool { return len(ctrl.Status().Services) == 0 })
	})
}

// condition returns the status of the object's condition of type typ.
func condition(u *unstructured.Unstructured, typ string) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			s, _ := m["status"].(string)
			return s
		}
	}
	return ""
}
