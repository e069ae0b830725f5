package store_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/runtime/kube/kubetest"
	"github.com/servekit/servekit/serving/runtime/kube/store"
)

// hpaService is the Service hpa-go with the template annotations ann (a CPU and a
// memory request, which the HPA's utilisation needs).
func hpaService(ann map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.knative.dev/v1", "kind": "Service",
		"metadata": map[string]any{"name": "hpa-go", "namespace": "default"},
		"spec": map[string]any{"template": map[string]any{
			"metadata": map[string]any{"annotations": ann},
			"spec": map[string]any{"containers": []any{map[string]any{
				"image":     "example.com/helloworld-go:v1",
				"resources": map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "64Mi"}},
			}}},
		}},
	}}
}

// setTemplateAnnotations replaces hpa-go's template annotations (nil: none).
func setTemplateAnnotations(t *testing.T, dyn dynamic.Interface, ann map[string]any) {
	t.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := get(ctx, dyn, store.ServicesGVR, "hpa-go")
		if err != nil {
			return err
		}
		if ann == nil {
			unstructured.RemoveNestedField(cur.Object, "spec", "template", "metadata", "annotations")
		} else if err := unstructured.SetNestedMap(cur.Object, ann, "spec", "template", "metadata", "annotations"); err != nil {
			return err
		}
		_, err = dyn.Resource(store.ServicesGVR).Namespace("default").Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// replicaLog records every spec.replicas the Deployments of the default namespace
// are written with, from a watch started before any exists.
type replicaLog struct {
	mu   sync.Mutex
	seen map[string][]int32
}

func watchReplicas(t *testing.T, cs kubernetes.Interface) *replicaLog {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := cs.AppsV1().Deployments("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	l := &replicaLog{seen: map[string][]int32{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if d, ok := ev.Object.(*appsv1.Deployment); ok && d.Spec.Replicas != nil {
				l.mu.Lock()
				l.seen[d.Name] = append(l.seen[d.Name], *d.Spec.Replicas)
				l.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { w.Stop(); cancel(); <-done })
	return l
}

func (l *replicaLog) of(name string) []int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int32(nil), l.seen[name]...)
}

// revisionStatus is the controller's view of hpa-go's revision name.
func revisionStatus(ctrl *controller.Controller, name string) (controller.RevisionStatus, bool) {
	for _, s := range ctrl.Status().Services {
		if s.Name != "hpa-go" {
			continue
		}
		for _, r := range s.Revisions {
			if r.Name == name {
				return r, true
			}
		}
	}
	return controller.RevisionStatus{}, false
}

// quantities compares resource quantities by value.
var quantities = cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })

// TestRealHPAClass: the HPA autoscaling class on the cluster path (issue 15 item
// 7), on the real API server, as the service account of config/deploy. A Service
// annotated class hpa, metric cpu, target 80, min/max scale gets, per Revision,
// Knative's MakeHPA HorizontalPodAutoscaler owned by the Revision's API UID; the
// Deployment's replicas are the HPA's (the test plays the HPA controller, and
// neither the controller nor a restarted one writes them back, nor ever 0); the
// KPA and the activator are out of it. A template change to the memory metric
// makes the next Revision's HPA (200Mi), and the HPA of the Revision the traffic
// left is updated as Knative's (Unreachable: no minReplicas). Without the class the
// next Revision has no HPA and the KPA scales it. A deleted Revision's HPA goes with
// it: deleted by the controller, or by the garbage collector (played) when no
// controller ran.
func TestRealHPAClass(t *testing.T) {
	cfg := kubetest.Start(t)
	ctx := context.Background()
	files, err := filepath.Glob("../../../../config/deploy/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in config/deploy: %v", err)
	}
	if err := kubetest.ApplyFiles(ctx, cfg, files...); err != nil {
		t.Fatal(err)
	}
	sa := kubetest.ServiceAccountConfig(cfg, "servekit", "servekit-controller")
	kubetest.StartWebhook(t, cfg, sa)
	dyn := dynamic.NewForConfigOrDie(cfg)
	cs := kubernetes.NewForConfigOrDie(cfg)
	hpas := cs.AutoscalingV2().HorizontalPodAutoscalers("default")
	deps := cs.AppsV1().Deployments("default")
	replicas := watchReplicas(t, cs)
	ctrl, stop := startStack(t, sa)

	cpu := map[string]any{
		"autoscaling.knative.dev/class": "hpa.autoscaling.knative.dev", "autoscaling.knative.dev/metric": "cpu",
		"autoscaling.knative.dev/target": "80", "autoscaling.knative.dev/min-scale": "2", "autoscaling.knative.dev/max-scale": "5",
	}
	if _, err := dyn.Resource(store.ServicesGVR).Namespace("default").Create(ctx, hpaService(cpu), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	getHPA := func(name string) *autoscalingv2.HorizontalPodAutoscaler {
		h, err := hpas.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil
		}
		return h
	}
	scaleOf := func(name string) int32 {
		s, err := deps.GetScale(ctx, name+"-deployment", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("scale of %s: %v", name, err)
		}
		return s.Spec.Replicas
	}
	// holds checks cond at each of 20 resyncs of the stack (100ms each).
	holds := func(what string, cond func() bool) {
		t.Helper()
		for range 20 {
			if !cond() {
				t.Fatalf("no longer true: %s", what)
			}
			time.Sleep(100 * time.Millisecond) // one SyncInterval of the stack
		}
	}

	// The cpu HPA, as Knative's MakeHPA, owned by the Revision.
	var rev1 *unstructured.Unstructured
	var h1 *autoscalingv2.HorizontalPodAutoscaler
	waitFor(t, "hpa-go-00001 and its HorizontalPodAutoscaler", func() bool {
		rev1, _ = get(ctx, dyn, store.RevisionsGVR, "hpa-go-00001")
		h1 = getHPA("hpa-go-00001")
		return rev1 != nil && h1 != nil
	})
	want := autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "hpa-go-00001-deployment"},
		MinReplicas:    new(int32(2)),
		MaxReplicas:    5,
		Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: new(int32(80))}}}},
	}
	if diff := cmp.Diff(want, h1.Spec, quantities); diff != "" {
		t.Errorf("cpu HPA spec (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(controllerRef(t, "Revision", "hpa-go-00001", rev1.GetUID()), h1.OwnerReferences); diff != "" {
		t.Errorf("HPA owner (-want +got):\n%s", diff)
	}
	for k, v := range map[string]string{"serving.knative.dev/revision": "hpa-go-00001", "serving.knative.dev/revisionUID": string(rev1.GetUID()),
		"serving.knative.dev/service": "hpa-go", "serving.knative.dev/configuration": "hpa-go"} {
		if h1.Labels[k] != v {
			t.Errorf("HPA label %s = %q, want %q", k, h1.Labels[k], v)
		}
	}
	if h1.Annotations["autoscaling.knative.dev/class"] != "hpa.autoscaling.knative.dev" || h1.Annotations["autoscaling.knative.dev/target"] != "80" {
		t.Errorf("HPA annotations = %v, want the Revision's autoscaling ones", h1.Annotations)
	}
	// What the garbage collector would do leaves it: its owner exists.
	collectGarbage(t, dyn, cs)
	if getHPA("hpa-go-00001") == nil {
		t.Fatal("the garbage collector (played) deleted the HPA of a live Revision: its owner reference names another UID")
	}

	// The Deployment's replicas are the HPA's. Play the HPA controller: it scales
	// the Deployment to 4 and reports that it cannot read the metrics (no metrics
	// server here, as on a cluster without one).
	waitFor(t, "hpa-go-00001-deployment", func() bool {
		_, err := deps.Get(ctx, "hpa-go-00001-deployment", metav1.GetOptions{})
		return err == nil
	})
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := deps.GetScale(ctx, "hpa-go-00001-deployment", metav1.GetOptions{})
		if err != nil {
			return err
		}
		s.Spec.Replicas = 4
		_, err = deps.UpdateScale(ctx, "hpa-go-00001-deployment", s, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		h, err := hpas.Get(ctx, "hpa-go-00001", metav1.GetOptions{})
		if err != nil {
			return err
		}
		h.Status = autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 2, DesiredReplicas: 4, Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{
			{Type: autoscalingv2.AbleToScale, Status: corev1.ConditionTrue, Reason: "SucceededGetScale", LastTransitionTime: metav1.Now()},
			{Type: autoscalingv2.ScalingActive, Status: corev1.ConditionFalse, Reason: "FailedGetResourceMetric", LastTransitionTime: metav1.Now(),
				Message: "the HPA was unable to compute the replica count: failed to get cpu utilization"},
		}}
		_, err = hpas.UpdateStatus(ctx, h, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var rs controller.RevisionStatus
	waitFor(t, "the controller to report the HPA's desired scale and condition", func() bool {
		rs, _ = revisionStatus(ctrl, "hpa-go-00001")
		return rs.DesiredScale == 4 && strings.Contains(rs.AutoscalerMessage, "FailedGetResourceMetric")
	})
	if rs.Autoscaler != "hpa.autoscaling.knative.dev" || rs.ActivatorInPath {
		t.Errorf("revision autoscaler %q, activator in path %v; want the HPA, not in the path", rs.Autoscaler, rs.ActivatorInPath)
	}
	holds("the Deployment at the HPA's 4 replicas", func() bool { return scaleOf("hpa-go-00001") == 4 })

	// A restarted controller (or a new leader) leaves the HPA and the replicas.
	before := getHPA("hpa-go-00001")
	stop()
	ctrl, stop = startStack(t, sa)
	waitFor(t, "the restarted controller to see the HPA", func() bool {
		rs, ok := revisionStatus(ctrl, "hpa-go-00001")
		return ok && rs.DesiredScale == 4 && rs.Autoscaler == "hpa.autoscaling.knative.dev"
	})
	holds("the Deployment at 4 replicas, the HPA not rewritten, after a restart", func() bool {
		h := getHPA("hpa-go-00001")
		return scaleOf("hpa-go-00001") == 4 && h != nil && h.ResourceVersion == before.ResourceVersion
	})

	// The memory metric: the next Revision's HPA. Once the traffic leaves the
	// first Revision, Knative's ScaleBounds drop its min-scale (unreachable): its
	// HPA loses minReplicas (the API server's default, 1).
	podReady(ctx, t, cs, "hpa-go-00001", "10.244.1.1")
	setTemplateAnnotations(t, dyn, map[string]any{
		"autoscaling.knative.dev/class": "hpa.autoscaling.knative.dev", "autoscaling.knative.dev/metric": "memory",
		"autoscaling.knative.dev/target": "200", "autoscaling.knative.dev/min-scale": "2", "autoscaling.knative.dev/max-scale": "5",
	})
	var h2 *autoscalingv2.HorizontalPodAutoscaler
	waitFor(t, "the HPA of hpa-go-00002", func() bool { h2 = getHPA("hpa-go-00002"); return h2 != nil })
	want = autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "hpa-go-00002-deployment"},
		MinReplicas:    new(int32(2)),
		MaxReplicas:    5,
		Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceMemory, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: resource.NewQuantity(200<<20, resource.BinarySI)}}}},
	}
	if diff := cmp.Diff(want, h2.Spec, quantities); diff != "" {
		t.Errorf("memory HPA spec (-want +got):\n%s", diff)
	}
	if h := getHPA("hpa-go-00001"); h == nil || h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != 2 {
		t.Errorf("hpa-go-00001's HPA while it has the traffic: %+v, want min 2", h)
	}
	podReady(ctx, t, cs, "hpa-go-00002", "10.244.1.2")
	waitFor(t, "hpa-go-00001 in reserve, its HPA without min-scale", func() bool {
		rev, err := get(ctx, dyn, store.RevisionsGVR, "hpa-go-00001")
		h := getHPA("hpa-go-00001")
		return err == nil && rev.GetLabels()["serving.knative.dev/routingState"] == "reserve" &&
			h != nil && h.Spec.MinReplicas != nil && *h.Spec.MinReplicas == 1
	})
	if h := getHPA("hpa-go-00001"); h.Spec.Metrics[0].Resource == nil || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU || h.Spec.MaxReplicas != 5 {
		t.Errorf("hpa-go-00001's HPA after the update: %+v, want still cpu, max 5", h.Spec)
	}

	// Without the class the next Revision has no HPA: the KPA scales it.
	setTemplateAnnotations(t, dyn, nil)
	waitFor(t, "hpa-go-00003 under the KPA", func() bool {
		rs, ok := revisionStatus(ctrl, "hpa-go-00003")
		_, err := deps.Get(ctx, "hpa-go-00003-deployment", metav1.GetOptions{})
		return ok && err == nil && rs.Autoscaler == "" && rs.ActivatorInPath
	})
	holds("no HPA for hpa-go-00003", func() bool {
		_, err := hpas.Get(ctx, "hpa-go-00003", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})

	// A deleted Revision's HPA goes with it: deleted by the controller, or, with
	// no controller running, by Kubernetes' garbage collector through the owner
	// reference (played).
	revs := dyn.Resource(store.RevisionsGVR).Namespace("default")
	if err := revs.Delete(ctx, "hpa-go-00001", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the controller to delete hpa-go-00001's HPA", func() bool { return getHPA("hpa-go-00001") == nil })
	stop()
	if err := revs.Delete(ctx, "hpa-go-00002", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if getHPA("hpa-go-00002") == nil {
		t.Fatal("hpa-go-00002's HPA gone before the garbage collector ran")
	}
	collectGarbage(t, dyn, cs)
	if getHPA("hpa-go-00002") != nil {
		t.Error("hpa-go-00002's HPA left after the garbage collector (played): its owner reference does not name the deleted Revision")
	}

	// Never 0, and nothing but the initial scale and the HPA's 4 written.
	for _, name := range []string{"hpa-go-00001-deployment", "hpa-go-00002-deployment"} {
		for _, n := range replicas.of(name) {
			if n == 0 {
				t.Errorf("%s was scaled to 0 (replicas written: %v)", name, replicas.of(name))
				break
			}
		}
	}
}
