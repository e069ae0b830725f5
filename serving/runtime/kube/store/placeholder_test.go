package store_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/servekit/servekit/serving"
	"github.com/servekit/servekit/serving/runtime/kube/kubetest"
	"github.com/servekit/servekit/serving/runtime/kube/store"
)

// testIngress is the ingress name the placeholder Services point at in these tests.
const testIngress = "servekit-ingress.servekit.svc.cluster.local"

func withIngress(o *store.Options) { o.IngressName = testIngress }

// setTraffic replaces the seed Service's spec.traffic.
func setTraffic(t *testing.T, dyn dynamic.Interface, traffic []any) {
	t.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := get(ctx, dyn, store.ServicesGVR, "helloworld-go")
		if err != nil {
			return err
		}
		if err := unstructured.SetNestedSlice(cur.Object, traffic, "spec", "traffic"); err != nil {
			return err
		}
		_, err = dyn.Resource(store.ServicesGVR).Namespace("default").Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRealPlaceholderServices: a Service with a tag gets, as in Knative, a
// placeholder Kubernetes Service for its Route and one for the tag, named by the
// hosts of the Route's cluster-local address and tag: ExternalName to the ingress,
// labelled with the Route and owned by the API Route. One that is changed by hand is
// put back; one in step is not rewritten. A removed tag's Service goes; when the
// Service is deleted, the garbage collector (simulated) leaves none dangling.
func TestRealPlaceholderServices(t *testing.T) {
	cfg := kubetest.Start(t)
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(cfg)
	cs := kubernetes.NewForConfigOrDie(cfg)
	_, _ = startStack(t, cfg, withIngress)

	svc := seed(t)
	if err := unstructured.SetNestedSlice(svc.Object, []any{
		map[string]any{"latestRevision": true, "percent": int64(100)},
		map[string]any{"latestRevision": true, "percent": int64(0), "tag": "candidate"},
	}, "spec", "traffic"); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(store.ServicesGVR).Namespace("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var rt *unstructured.Unstructured
	waitFor(t, "the Route's status.address", func() bool {
		var err error
		rt, err = get(ctx, dyn, store.RoutesGVR, "helloworld-go")
		if err != nil {
			return false
		}
		addr, _, _ := unstructured.NestedString(rt.Object, "status", "address", "url")
		return addr != ""
	})
	addr, _, _ := unstructured.NestedString(rt.Object, "status", "address", "url")
	u, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	// The cluster-local address names the Route's placeholder: <name>.<ns>.svc.cluster.local.
	if want := "helloworld-go.default.svc.cluster.local"; u.Host != want {
		t.Fatalf("status.address.url host = %q, want %q", u.Host, want)
	}
	placeholder := func(name string) (*corev1.Service, error) {
		return cs.CoreV1().Services("default").Get(ctx, name, metav1.GetOptions{})
	}
	want := func(name string) corev1.Service {
		yes := true
		h2c := "kubernetes.io/h2c"
		return corev1.Service{
			ObjectMeta: metav1.ObjectMeta{
				Name: name, Namespace: "default",
				Labels:          map[string]string{serving.RouteLabelKey: "helloworld-go", serving.ServiceLabelKey: "helloworld-go"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "serving.knative.dev/v1", Kind: "Route", Name: "helloworld-go", UID: rt.GetUID(), Controller: &yes, BlockOwnerDeletion: &yes}},
			},
			Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeExternalName, ExternalName: testIngress, SessionAffinity: corev1.ServiceAffinityNone,
				Ports: []corev1.ServicePort{{Name: store.PlaceholderPortName, Protocol: corev1.ProtocolTCP, AppProtocol: &h2c, Port: 80, TargetPort: intstr.FromInt32(80)}},
			},
		}
	}
	pick := func(s *corev1.Service) corev1.Service {
		return corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, Labels: s.Labels, OwnerReferences: s.OwnerReferences},
			Spec: corev1.ServiceSpec{
				Type: s.Spec.Type, ExternalName: s.Spec.ExternalName, SessionAffinity: s.Spec.SessionAffinity, Ports: s.Spec.Ports,
				ClusterIP: s.Spec.ClusterIP,
			},
		}
	}
	var first *corev1.Service
	for _, name := range []string{"helloworld-go", "candidate-helloworld-go"} {
		var got *corev1.Service
		waitFor(t, "the placeholder Service "+name, func() bool {
			got, err = placeholder(name)
			return err == nil
		})
		if diff := cmp.Diff(want(name), pick(got)); diff != "" {
			t.Errorf("placeholder Service %s (-want +got):\n%s", name, diff)
		}
		if first == nil {
			first = got
		}
	}

	// The tag goes: so does its Service; the Route's, in step all along, is not
	// rewritten.
	setTraffic(t, dyn, []any{map[string]any{"latestRevision": true, "percent": int64(100)}})
	waitFor(t, "the removed tag's placeholder Service to go", func() bool {
		_, err := placeholder("candidate-helloworld-go")
		return apierrors.IsNotFound(err)
	})
	got, err := placeholder("helloworld-go")
	if err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion != first.ResourceVersion {
		t.Errorf("the Route's placeholder Service was rewritten while in step: resourceVersion %s → %s", first.ResourceVersion, got.ResourceVersion)
	}

	// Changed by hand (a user's label kept): put back.
	got.Spec.ExternalName = "elsewhere.example.com"
	got.Labels["team"] = "a"
	if _, err := cs.CoreV1().Services("default").Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the placeholder's target put back", func() bool {
		got, err = placeholder("helloworld-go")
		return err == nil && got.Spec.ExternalName == testIngress
	})
	if got.Labels["team"] != "a" {
		t.Errorf("placeholder labels = %v, want the user's team=a kept", got.Labels)
	}

	// The Service goes: the store deletes the Route; the garbage collector the
	// placeholders, through their owner references.
	if err := dyn.Resource(store.ServicesGVR).Namespace("default").Delete(ctx, "helloworld-go", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Route deleted", func() bool {
		_, err := get(ctx, dyn, store.RoutesGVR, "helloworld-go")
		return apierrors.IsNotFound(err)
	})
	collectGarbage(t, dyn, cs) // deletion_test.go
	left, err := cs.CoreV1().Services("default").List(ctx, metav1.ListOptions{LabelSelector: serving.RouteLabelKey})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range left.Items {
		t.Errorf("placeholder Service %s left after its Route was deleted (owners %v)", s.Name, s.OwnerReferences)
	}
}
