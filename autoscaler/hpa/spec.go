package hpa

import (
	"math"

	"github.com/servekit/servekit/autoscaler"
)

// Mebibyte is the unit of a memory target annotation: Knative's MakeHPA
// reads autoscaling.knative.dev/target: "256" with metric memory as an
// average of 256 Mi per pod.
const Mebibyte = 1 << 20

// SpecFor returns the HorizontalPodAutoscaler that Knative's MakeHPA gives a
// revision of the HPA class, as a Spec and the metric it measures
// (autoscaler.MetricCPU or autoscaler.MetricMemory):
//
//   - cpu: Target is the target annotation, a percentage of the CPU
//     request, rounded up (Knative's AverageUtilization);
//   - memory: Target is the annotation in mebibytes, as bytes (Knative's
//     AverageValue);
//   - no target (or another metric, which a Kubernetes HPA reads from a
//     custom metrics API this package does not have): Kubernetes' default
//     for an HPA without metrics, 80 % of the CPU request;
//   - Min is min-scale, at least 1; Max is max-scale (0: no limit);
//   - an annotated window is the stabilisation window in both directions;
//     without one, Kubernetes' defaults (up at once, down over 300 s).
func SpecFor(s autoscaler.Spec) (Spec, string) {
	out := Spec{
		Min:             max(s.BoundedMin(), 1),
		Max:             s.MaxScale,
		ScaleUpWindow:   DefaultScaleUpWindow,
		ScaleDownWindow: DefaultScaleDownWindow,
	}
	if s.WindowSet {
		out.ScaleUpWindow, out.ScaleDownWindow = s.StableWindow, s.StableWindow
	}
	if out.Max != 0 && out.Max < out.Min {
		out.Max = out.Min
	}
	switch {
	case s.TargetValue > 0 && s.Metric == autoscaler.MetricCPU:
		return withTarget(out, math.Ceil(s.TargetValue)), autoscaler.MetricCPU
	case s.TargetValue > 0 && s.Metric == autoscaler.MetricMemory:
		return withTarget(out, s.TargetValue*Mebibyte), autoscaler.MetricMemory
	}
	return withTarget(out, DefaultCPUUtilization), autoscaler.MetricCPU
}

func withTarget(s Spec, t float64) Spec {
	s.Target = t
	return s
}
