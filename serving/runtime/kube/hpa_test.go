package kube

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/autoscaler"
	v1 "github.com/servekit/servekit/serving/v1"
)

// hpaSeed is the seed revision with the HPA class annotations ann.
func hpaSeed(t *testing.T, ann map[string]string) (*v1.Revision, autoscaler.Spec) {
	t.Helper()
	rev := seedRevision(t)
	if rev.Annotations == nil {
		rev.Annotations = map[string]string{}
	}
	delete(rev.Annotations, autoscaler.AnnotationTarget) // the seed's concurrency target
	rev.Annotations[autoscaler.AnnotationClass] = autoscaler.ClassHPA
	for k, v := range ann {
		rev.Annotations[k] = v
	}
	spec, err := autoscaler.SpecFromAnnotations(autoscaler.DefaultConfig(), rev.Annotations, 0)
	if err != nil {
		t.Fatal(err)
	}
	return rev, spec
}

// TestMakeHPA: Knative's MakeHPA, field by field (issue 15 item 7).
func TestMakeHPA(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ann     map[string]string
		min     *int32
		max     int32
		metrics []autoscalingv2.MetricSpec
		window  *int32
	}{{
		name: "cpu 80, min 2, max 5, window 20s",
		ann: map[string]string{autoscaler.AnnotationMetric: "cpu", autoscaler.AnnotationTarget: "80",
			autoscaler.AnnotationMinScale: "2", autoscaler.AnnotationMaxScale: "5", autoscaler.AnnotationWindow: "20s"},
		min: ptr(int32(2)), max: 5,
		metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr(int32(80))}}}},
		window: ptr(int32(20)),
	}, {
		name: "cpu target rounded up",
		ann:  map[string]string{autoscaler.AnnotationTarget: "50.5"},
		max:  math.MaxInt32,
		metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr(int32(51))}}}},
	}, {
		name: "memory in Mi",
		ann:  map[string]string{autoscaler.AnnotationMetric: "memory", autoscaler.AnnotationTarget: "256"},
		max:  math.MaxInt32,
		metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceMemory, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: resource.NewQuantity(256<<20, resource.BinarySI)}}}},
	}, {
		name: "custom pods metric",
		ann:  map[string]string{autoscaler.AnnotationMetric: "queue_depth", autoscaler.AnnotationTarget: "7"},
		max:  math.MaxInt32,
		metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
			Metric: autoscalingv2.MetricIdentifier{Name: "queue_depth"},
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: resource.NewQuantity(7, resource.DecimalSI)}}}},
	}, {
		name: "no target: no metrics (Kubernetes' 80 % cpu)",
		max:  math.MaxInt32,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rev, spec := hpaSeed(t, tc.ann)
			h := makeHPA(rev, spec)
			if h.Name != rev.Name || h.Namespace != "default" || h.Spec.ScaleTargetRef != (autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: rev.Name + "-deployment"}) {
				t.Errorf("name %s/%s, target %+v", h.Namespace, h.Name, h.Spec.ScaleTargetRef)
			}
			if ref := metav1.GetControllerOf(h); ref == nil || ref.UID != rev.UID || ref.Kind != "Revision" {
				t.Errorf("controller %+v, want the Revision (UID %s)", ref, rev.UID)
			}
			if h.Labels["serving.knative.dev/revision"] != rev.Name || h.Annotations[autoscaler.AnnotationClass] != autoscaler.ClassHPA {
				t.Errorf("labels %v annotations %v", h.Labels, h.Annotations)
			}
			if diff := cmp.Diff(tc.min, h.Spec.MinReplicas); diff != "" || h.Spec.MaxReplicas != tc.max {
				t.Errorf("min (-want +got) %s; max %d, want %d", diff, h.Spec.MaxReplicas, tc.max)
			}
			if diff := cmp.Diff(tc.metrics, h.Spec.Metrics); diff != "" {
				t.Errorf("metrics (-want +got):\n%s", diff)
			}
			if got := window(h.Spec.Behavior, true); tc.window == nil && got != -1 || tc.window != nil && (got != *tc.window || window(h.Spec.Behavior, false) != *tc.window) {
				t.Errorf("behavior %+v, want window %v both ways", h.Spec.Behavior, tc.window)
			}
		})
	}
}

// TestSetHPA: the Backend creates the revision's HPA after its children, starts
// the Deployment at one replica even with initial-scale 0, updates the HPA when the
// spec changes, never writes the Deployment's replicas, deletes it with the
// revision, and reads its status back through the informer.
func TestSetHPA(t *testing.T) {
	c := newFakeClient()
	b := newTestBackend(t, c, func(o *Options) { o.Namespace = "default" })
	rev, spec := hpaSeed(t, map[string]string{autoscaler.AnnotationTarget: "80"})
	rev.Annotations[autoscaler.AnnotationInitialScale] = "0" // as allow-zero-initial-scale permits
	ctx := context.Background()
	if err := b.Apply(rev); err != nil {
		t.Fatal(err)
	}
	if err := b.SetHPA(seedKey, spec); err != nil {
		t.Fatal(err)
	}
	hpas := c.AutoscalingV2().HorizontalPodAutoscalers("default")
	h, err := hpas.Get(ctx, rev.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the HPA: %v", err)
	}
	if got := *h.Spec.Metrics[0].Resource.Target.AverageUtilization; got != 80 {
		t.Errorf("averageUtilization %d, want 80", got)
	}
	if d := getDeployment(t, c, rev.Name+"-deployment"); *d.Spec.Replicas != 1 {
		t.Errorf("deployment replicas %d, want 1 (an HPA does not scale from zero)", *d.Spec.Replicas)
	}

	// The HPA scales the Deployment; a new spec (config-autoscaler's max-scale)
	// updates the HPA and leaves the replicas alone.
	d := getDeployment(t, c, rev.Name+"-deployment")
	d.Spec.Replicas = ptr(int32(4))
	if _, err := c.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	spec.MaxScale = 7
	if err := b.SetHPA(seedKey, spec); err != nil {
		t.Fatal(err)
	}
	if h, _ = hpas.Get(ctx, rev.Name, metav1.GetOptions{}); h.Spec.MaxReplicas != 7 {
		t.Errorf("maxReplicas %d after the update, want 7", h.Spec.MaxReplicas)
	}
	if d := getDeployment(t, c, rev.Name+"-deployment"); *d.Spec.Replicas != 4 {
		t.Errorf("deployment replicas %d, want the HPA's 4", *d.Spec.Replicas)
	}

	n := newNotifications()
	run(t, b, n.notify)
	h.Status = autoscalingv2.HorizontalPodAutoscalerStatus{DesiredReplicas: 4, Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{{
		Type: autoscalingv2.ScalingActive, Status: corev1.ConditionFalse, Reason: "FailedGetResourceMetric", Message: "missing request for cpu",
	}}}
	if _, err := hpas.UpdateStatus(ctx, h, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the HPA's status", n.ch, func() bool { return b.HPAStatus(seedKey).DesiredReplicas == 4 })
	if got, want := b.HPAStatus(seedKey).Message, "HorizontalPodAutoscaler ScalingActive: FailedGetResourceMetric: missing request for cpu"; got != want {
		t.Errorf("HPAStatus message %q, want %q", got, want)
	}

	if err := b.Delete(seedKey); err != nil {
		t.Fatal(err)
	}
	if _, err := hpas.Get(ctx, rev.Name, metav1.GetOptions{}); err == nil {
		t.Error("the HPA outlived its revision")
	}
}

// TestSetHPARefusesForeignHPA: an HPA of the revision's name that is not its own
// is an error naming it.
func TestSetHPARefusesForeignHPA(t *testing.T) {
	rev, spec := hpaSeed(t, nil)
	foreign := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: rev.Name, Namespace: "default"}}
	c := newFakeClient(foreign)
	b := newTestBackend(t, c, nil)
	if err := b.Apply(rev); err != nil {
		t.Fatal(err)
	}
	err := b.SetHPA(seedKey, spec)
	if err == nil || !strings.Contains(err.Error(), "horizontalpodautoscaler default/"+rev.Name+" already exists and does not belong to the revision") {
		t.Errorf("SetHPA over a foreign HPA = %v", err)
	}
}
