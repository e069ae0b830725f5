package autoscaler

import (
	"fmt"
	"math"
	"time"
)

// Spec is everything the autoscaler needs to know about one revision: the
// cluster Config resolved against the revision's annotations and
// containerConcurrency. Build it with [SpecFromAnnotations].
type Spec struct {
	// Class is the autoscaler class (KPA unless annotated otherwise).
	Class string
	// Metric is MetricConcurrency or MetricRPS for the KPA class; for the HPA
	// class the metric annotation, MetricCPU when there is none (Knative's
	// default for the class).
	Metric string
	// Algorithm is AlgorithmLinear or AlgorithmWeightedExponential.
	Algorithm string
	// TotalValue is the per-pod capacity of the metric ("total"). For the
	// HPA class it is the target annotation as written (a percentage of
	// the CPU request for MetricCPU, mebibytes for MetricMemory), 0 when
	// there is none; TargetValue is then the same.
	TotalValue float64
	// TargetValue is the per-pod set point: max(0.01, total × utilisation).
	TargetValue float64
	// PanicThreshold is a ratio (2.0 = 200 %).
	PanicThreshold float64
	// TargetBurstCapacity: -1 activator always in path, 0 only at zero.
	TargetBurstCapacity float64
	// StableWindow is the stable averaging window.
	StableWindow time.Duration
	// WindowSet is true when the window annotation sets StableWindow. The
	// HPA class uses such a window as its stabilisation window, up and down
	// (Knative's MakeHPA); without one it keeps Kubernetes' defaults.
	WindowSet bool
	// PanicWindow is the panic averaging window (see PanicWindowFor).
	PanicWindow time.Duration
	// ScaleDownDelay holds scale-downs (0 = none).
	ScaleDownDelay time.Duration
	// MaxScaleUpRate is the per-tick scale-up cap (ConfigMap only).
	MaxScaleUpRate float64
	// MaxScaleDownRate is the per-tick scale-down cap (ConfigMap only).
	MaxScaleDownRate float64
	// ActivatorCapacity sizes the activator subset.
	ActivatorCapacity float64
	// ActivationScale is the minimum non-zero scale (0 or 1 = none).
	ActivationScale int32
	// MinScale is the lower bound (ignored when not Reachable).
	MinScale int32
	// MaxScale is the upper bound; 0 means unbounded.
	MaxScale int32
	// InitialScale is the scale the revision starts with and the lower
	// bound until it first reaches it. SpecFromAnnotations bounds it by
	// MaxScale (see BoundedInitialScale).
	InitialScale int32
	// InitialScaleClampedFrom is the initial-scale asked for (annotation or
	// config) when it was above MaxScale and InitialScale was lowered to
	// MaxScale; 0 when it was not.
	InitialScaleClampedFrom int32
	// EnableScaleToZero: when false a final 0 becomes 1.
	EnableScaleToZero bool
	// ScaleToZeroGracePeriod is how long the activator must be in the path
	// (or the revision inactive) before the last pod goes.
	ScaleToZeroGracePeriod time.Duration
	// ScaleToZeroPodRetentionPeriod is the minimum time the last pod stays
	// after the revision went inactive (ignored when not Reachable).
	ScaleToZeroPodRetentionPeriod time.Duration
	// ActivationTimeout is how long a revision may stay activating before
	// it is scaled to zero (progress deadline + 30 s).
	ActivationTimeout time.Duration
	// Reachable is false when no route sends traffic to the revision:
	// min-scale and retention are then ignored, the down-rate limit and
	// scale-down delay skipped. SpecFromAnnotations sets it to true.
	Reachable bool
}

// PanicWindowFor returns round(stable × pct / 100) to whole seconds (half
// away from zero), at least one second.
func PanicWindowFor(stable time.Duration, pct float64) time.Duration {
	d := time.Duration(float64(stable) * pct / 100).Round(time.Second)
	if d < time.Second {
		d = time.Second
	}
	return d
}

// SpecFromAnnotations resolves a revision's spec from the cluster config,
// its annotations and its containerConcurrency (0 = unlimited). It
// validates the annotations like Knative's webhook does (the rules of
// [ValidateAnnotations], plus serving.knative.dev/progress-deadline) and
// returns an *[AnnotationError] for the first bad one.
func SpecFromAnnotations(cfg Config, ann map[string]string, containerConcurrency int64) (Spec, error) {
	if containerConcurrency < 0 {
		return Spec{}, fmt.Errorf("autoscaler: containerConcurrency = %d: must be at least 0", containerConcurrency)
	}
	st, errs := readAnnotations(cfg, ann, false)
	if len(errs) > 0 {
		return Spec{}, errs[0]
	}
	s := st.spec
	s.PanicWindow = PanicWindowFor(s.StableWindow, st.panicWindowPct)
	if b := s.BoundedInitialScale(); b != s.InitialScale {
		s.InitialScaleClampedFrom, s.InitialScale = s.InitialScale, b
	}
	if s.Class == ClassHPA {
		// The HPA reads the metric and target as they are: no utilisation,
		// no containerConcurrency (Knative's MakeHPA).
		if _, _, ok := metricRule.lookup(ann); !ok {
			s.Metric = MetricCPU
		}
		if st.targetSet {
			s.TotalValue, s.TargetValue = st.target, st.target
		}
		return s, nil
	}

	// Total and target (resources/target.go).
	tu := st.utilization
	if tu == 0 { // no annotation: the config's, for the metric
		tu = cfg.ContainerConcurrencyTargetFraction
		if s.Metric == MetricRPS {
			tu = cfg.TargetUtilization
		}
	}
	switch {
	case s.Metric == MetricRPS:
		s.TotalValue = cfg.RPSTargetDefault
	case containerConcurrency > 0:
		s.TotalValue = float64(containerConcurrency)
	default:
		s.TotalValue = cfg.ContainerConcurrencyTargetDefault
	}
	if st.targetSet {
		s.TotalValue = st.target
		if s.Metric != MetricRPS && containerConcurrency > 0 {
			s.TotalValue = math.Min(st.target, float64(containerConcurrency))
		}
	}
	s.TargetValue = math.Max(TargetMin, s.TotalValue*tu)
	return s, nil
}

// baseSpec is the Spec of a revision without annotations, before its
// panic window and targets are derived.
func baseSpec(cfg Config) Spec {
	return Spec{
		Class:                         cfg.PodAutoscalerClass,
		Metric:                        MetricConcurrency,
		Algorithm:                     AlgorithmLinear,
		PanicThreshold:                cfg.PanicThresholdPercentage / 100,
		TargetBurstCapacity:           cfg.TargetBurstCapacity,
		StableWindow:                  cfg.StableWindow,
		ScaleDownDelay:                cfg.ScaleDownDelay,
		MaxScaleUpRate:                cfg.MaxScaleUpRate,
		MaxScaleDownRate:              cfg.MaxScaleDownRate,
		ActivatorCapacity:             cfg.ActivatorCapacity,
		MinScale:                      cfg.MinScale,
		MaxScale:                      cfg.MaxScale,
		InitialScale:                  cfg.InitialScale,
		EnableScaleToZero:             cfg.EnableScaleToZero,
		ScaleToZeroGracePeriod:        cfg.ScaleToZeroGracePeriod,
		ScaleToZeroPodRetentionPeriod: cfg.ScaleToZeroPodRetentionPeriod,
		ActivationTimeout:             cfg.progressDeadline() + ActivationTimeoutBuffer,
		Reachable:                     true,
	}
}

// progressDeadline is ProgressDeadline, or its default.
func (c Config) progressDeadline() time.Duration {
	if c.ProgressDeadline > 0 {
		return c.ProgressDeadline
	}
	return DefaultProgressDeadline
}

// Scrapes reports whether the revision's pods are scraped: not when TBC is
// -1, where only the activator's stats feed the windows.
func (s Spec) Scrapes() bool { return s.TargetBurstCapacity >= 0 }

// BoundedMin returns min-scale, forced to 0 for an unreachable revision.
func (s Spec) BoundedMin() int32 {
	if !s.Reachable {
		return 0
	}
	return s.MinScale
}
