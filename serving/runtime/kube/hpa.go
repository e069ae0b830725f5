package kube

import (
	"context"
	"fmt"
	"math"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/autoscaler/hpa"
	"github.com/servekit/servekit/serving"
	"github.com/servekit/servekit/serving/runtime"
	v1 "github.com/servekit/servekit/serving/v1"
)

var _ runtime.HPAScaler = (*Backend)(nil)

// HPAName is the name of a revision's HorizontalPodAutoscaler: the revision's own,
// as Knative names it after the revision's PodAutoscaler.
func HPAName(rev string) string { return rev }

// makeHPA builds the autoscaling/v2 HorizontalPodAutoscaler of an HPA-class
// revision as Knative's MakeHPA does
// (knative.dev/serving/pkg/reconciler/autoscaling/hpa/resources/hpa.go): it
// targets the revision's Deployment; minReplicas is min-scale when above 0 (else
// Kubernetes' default, 1), maxReplicas max-scale (no limit when 0); with a target,
// the cpu metric is an average utilisation of the CPU request in percent (rounded
// up), memory an average value in Mi, any other metric a pods metric of that name;
// without one, no metrics (Kubernetes then targets 80 % CPU); an annotated window
// is the stabilisation window both ways. Its labels are the Deployment's, its
// annotations the revision's without the bookkeeping ones, and the Revision is its
// controller.
func makeHPA(rev *v1.Revision, spec autoscaler.Spec) *autoscalingv2.HorizontalPodAutoscaler {
	maxReplicas := spec.MaxScale
	if maxReplicas == 0 {
		maxReplicas = math.MaxInt32
	}
	h := &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            HPAName(rev.Name),
			Namespace:       rev.Namespace,
			Labels:          childLabels(rev),
			Annotations:     hpaAnnotations(rev),
			OwnerReferences: ownerRefs(rev),
		},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: DeploymentName(rev.Name)},
			MaxReplicas:    maxReplicas,
		},
	}
	if m := spec.BoundedMin(); m > 0 {
		h.Spec.MinReplicas = &m
	}
	if t := spec.TargetValue; t > 0 {
		switch spec.Metric {
		case autoscaler.MetricCPU:
			h.Spec.Metrics = []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{
					Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr(int32(math.Ceil(t))),
				}},
			}}
		case autoscaler.MetricMemory:
			h.Spec.Metrics = []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceMemory, Target: autoscalingv2.MetricTarget{
					Type: autoscalingv2.AverageValueMetricType, AverageValue: resource.NewQuantity(int64(t)*hpa.Mebibyte, resource.BinarySI),
				}},
			}}
		default:
			h.Spec.Metrics = []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.PodsMetricSourceType,
				Pods: &autoscalingv2.PodsMetricSource{Metric: autoscalingv2.MetricIdentifier{Name: spec.Metric}, Target: autoscalingv2.MetricTarget{
					Type: autoscalingv2.AverageValueMetricType, AverageValue: resource.NewQuantity(int64(t), resource.DecimalSI),
				}},
			}}
		}
	}
	if spec.WindowSet {
		w := int32(spec.StableWindow.Seconds())
		h.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{
			ScaleUp:   &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr(w)},
			ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr(w)},
		}
	}
	return h
}

// hpaAnnotations are the revision's annotations, autoscaling ones included (as on
// Knative's PodAutoscaler), without the bookkeeping ones.
func hpaAnnotations(rev *v1.Revision) map[string]string {
	out := childAnnotations(rev)
	for k, v := range rev.Annotations {
		if len(k) > len(autoscaler.AnnotationPrefix) && k[:len(autoscaler.AnnotationPrefix)] == autoscaler.AnnotationPrefix {
			out[k] = v
		}
	}
	return out
}

// SetHPA records the revision's HorizontalPodAutoscaler (see makeHPA) and, as the
// leader, creates it, or updates it when what servekit sets differs (after the
// revision's children). An HPA of the same name that belongs to something else is
// an error naming it; one left by a deleted revision of the same name is replaced.
// The Deployment's replicas are the HPA's from then on: Scale is never called for
// the revision, and a new leader does not write them either. As a follower, SetHPA
// only records it.
func (b *Backend) SetHPA(key types.NamespacedName, spec autoscaler.Spec) error {
	return b.recordAndSync(key, "SetHPA", func(info *revInfo) {
		info.hpa = makeHPA(info.rev, spec)
	})
}

// HPAStatus reads the revision's HorizontalPodAutoscaler (from the Backend's
// informer, while Run runs): its desired replicas, and why it cannot scale when
// its ScalingActive or AbleToScale condition is False.
func (b *Backend) HPAStatus(key types.NamespacedName) runtime.HPAStatus {
	obj, ok, err := b.hpas.GetIndexer().GetByKey(key.Namespace + "/" + HPAName(key.Name))
	if err != nil || !ok {
		return runtime.HPAStatus{}
	}
	h, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	if !ok {
		return runtime.HPAStatus{}
	}
	st := runtime.HPAStatus{DesiredReplicas: h.Status.DesiredReplicas}
	for _, c := range h.Status.Conditions {
		if (c.Type == autoscalingv2.ScalingActive || c.Type == autoscalingv2.AbleToScale) && c.Status == corev1.ConditionFalse {
			st.Message = fmt.Sprintf("HorizontalPodAutoscaler %s: %s: %s", c.Type, c.Reason, c.Message)
			break
		}
	}
	return st
}

// hpaChanged tells the controller that a revision's HPA changed (its status).
func (b *Backend) hpaChanged(obj any) {
	h, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	if !ok || h.Labels[serving.RevisionLabelKey] == "" {
		return
	}
	if n := b.notify.Load(); n != nil {
		(*n)(types.NamespacedName{Namespace: h.Namespace, Name: h.Labels[serving.RevisionLabelKey]})
	}
}

// ensureHPA creates want, or updates the existing HPA of the revision when the
// fields servekit sets differ.
func (b *Backend) ensureHPA(ctx context.Context, rev *v1.Revision, want *autoscalingv2.HorizontalPodAutoscaler) error {
	hpas := b.client.AutoscalingV2().HorizontalPodAutoscalers(want.Namespace)
	what := fmt.Sprintf("horizontalpodautoscaler %s/%s", want.Namespace, want.Name)
	got, err := hpas.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := hpas.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("kube: revision %s/%s: create %s: %w", rev.Namespace, rev.Name, what, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("kube: revision %s/%s: get %s: %w", rev.Namespace, rev.Name, what, err)
	}
	if stale(rev, got) {
		uid := got.UID
		if err := hpas.Delete(ctx, got.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("kube: revision %s/%s: delete %s, left by a deleted revision: %w", rev.Namespace, rev.Name, what, err)
		}
		if _, err := hpas.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("kube: revision %s/%s: create %s: %w", rev.Namespace, rev.Name, what, err)
		}
		return nil
	}
	if !owned(rev, got) {
		return fmt.Errorf("kube: revision %s/%s: %s already exists and does not belong to the revision", rev.Namespace, rev.Name, what)
	}
	if hpaUpToDate(got, want) {
		return nil
	}
	up := got.DeepCopy()
	up.Labels, up.Annotations = want.Labels, want.Annotations
	up.Spec.ScaleTargetRef, up.Spec.MinReplicas, up.Spec.MaxReplicas, up.Spec.Metrics = want.Spec.ScaleTargetRef, want.Spec.MinReplicas, want.Spec.MaxReplicas, want.Spec.Metrics
	up.Spec.Behavior = want.Spec.Behavior
	if _, err := hpas.Update(ctx, up, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("kube: revision %s/%s: update %s: %w", rev.Namespace, rev.Name, what, err)
	}
	return nil
}

// hpaUpToDate compares what servekit sets. The API server defaults an empty
// metrics list to 80 % CPU and fills a behavior's policies, so those count as
// equal when want leaves them to it.
func hpaUpToDate(got, want *autoscalingv2.HorizontalPodAutoscaler) bool {
	if !equality.Semantic.DeepEqual(got.Labels, want.Labels) || !equality.Semantic.DeepEqual(got.Annotations, want.Annotations) ||
		got.Spec.ScaleTargetRef != want.Spec.ScaleTargetRef || got.Spec.MaxReplicas != want.Spec.MaxReplicas ||
		!equality.Semantic.DeepEqual(got.Spec.MinReplicas, want.Spec.MinReplicas) && !(want.Spec.MinReplicas == nil && got.Spec.MinReplicas != nil && *got.Spec.MinReplicas == 1) {
		return false
	}
	if len(want.Spec.Metrics) > 0 && !equality.Semantic.DeepEqual(got.Spec.Metrics, want.Spec.Metrics) {
		return false
	}
	return window(got.Spec.Behavior, true) == window(want.Spec.Behavior, true) &&
		window(got.Spec.Behavior, false) == window(want.Spec.Behavior, false)
}

// window is a behavior's stabilisation window up or down, -1 when unset.
func window(b *autoscalingv2.HorizontalPodAutoscalerBehavior, up bool) int32 {
	if b == nil {
		return -1
	}
	r := b.ScaleDown
	if up {
		r = b.ScaleUp
	}
	if r == nil || r.StabilizationWindowSeconds == nil {
		return -1
	}
	return *r.StabilizationWindowSeconds
}
