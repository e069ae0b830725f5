// Package hpa is the Kubernetes HorizontalPodAutoscaler's replica
// calculation for one resource metric, as a pure step that a platform runs
// for Knative's HPA autoscaling class (autoscaling.knative.dev/class:
// hpa.autoscaling.knative.dev) where no Kubernetes HPA controller runs, and
// that a platform team can unit-test offline.
//
// One [Decider] per scaled workload: each sync period the caller reads every
// ready pod's usage of the metric (CPU as a percentage of the container's
// CPU request, or memory in bytes) and calls [Decider.Decide] with the
// instant, the current replica count and the usages. The decision follows
// the HPA controller of Kubernetes (pkg/controller/podautoscaler):
//
//   - the usage ratio is the pods' average usage over the target; within
//     the tolerance (|ratio − 1| ≤ 0.1 by default) nothing changes;
//   - otherwise the raw recommendation is ceil(ratio × pods with metrics),
//     where pods without a usage yet count as using nothing when scaling up
//     and exactly the target when scaling down (so that they can neither
//     cause nor deepen a change);
//   - stabilisation: the result is at least the lowest recommendation of
//     the scale-up window and at most the highest of the scale-down window
//     (by default 0 and 300 s: scale up at once, scale down to the highest
//     recommendation of the last five minutes);
//   - bounds: at least Min (which is at least 1: the HPA never scales to
//     zero) and at most Max.
//
// Kubernetes' scaling policies (by default at most double, or +4 pods, per
// 15 s up; any amount down) are not applied: the stabilisation windows are
// the only damping. Decide takes the instant as an argument and keeps no
// clock, so a test drives it with fixed instants.
package hpa
