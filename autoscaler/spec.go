package autoscaler

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Metric names for the metric annotation.
const (
	MetricConcurrency = "concurrency"
	MetricRPS         = "rps"
)

// Aggregation algorithms for the metric-aggregation-algorithm annotation.
const (
	AlgorithmLinear              = "linear"
	AlgorithmWeightedExponential = "weighted-exponential"
	// algorithmWeightedExponentialAlt is the camelCase spelling Knative
	// also accepts.
	algorithmWeightedExponentialAlt = "weightedExponential"
)

// Annotation keys (prefix autoscaling.knative.dev/). Legacy camelCase
// aliases are accepted where Knative accepts them; the kebab-case key wins
// when both are present.
const (
	AnnotationPrefix                  = "autoscaling.knative.dev/"
	AnnotationClass                   = AnnotationPrefix + "class"
	AnnotationMetric                  = AnnotationPrefix + "metric"
	AnnotationTarget                  = AnnotationPrefix + "target"
	AnnotationTargetUtilization       = AnnotationPrefix + "target-utilization-percentage"
	AnnotationTargetBurstCapacity     = AnnotationPrefix + "target-burst-capacity"
	AnnotationWindow                  = AnnotationPrefix + "window"
	AnnotationPanicWindowPercentage   = AnnotationPrefix + "panic-window-percentage"
	AnnotationPanicThresholdPct       = AnnotationPrefix + "panic-threshold-percentage"
	AnnotationMinScale                = AnnotationPrefix + "min-scale"
	AnnotationMaxScale                = AnnotationPrefix + "max-scale"
	AnnotationInitialScale            = AnnotationPrefix + "initial-scale"
	AnnotationActivationScale         = AnnotationPrefix + "activation-scale"
	AnnotationScaleDownDelay          = AnnotationPrefix + "scale-down-delay"
	AnnotationScaleToZeroPodRetention = AnnotationPrefix + "scale-to-zero-pod-retention-period"
	AnnotationMetricAggregation       = AnnotationPrefix + "metric-aggregation-algorithm"
	// AnnotationProgressDeadline is serving.knative.dev/progress-deadline;
	// the activation timeout is this plus 30 s.
	AnnotationProgressDeadline = "serving.knative.dev/progress-deadline"
)

// aliases maps a kebab-case annotation to its legacy camelCase alias.
func alias(key string) string {
	switch key {
	case AnnotationTargetUtilization:
		return AnnotationPrefix + "targetUtilizationPercentage"
	case AnnotationTargetBurstCapacity:
		return AnnotationPrefix + "targetBurstCapacity"
	case AnnotationPanicWindowPercentage:
		return AnnotationPrefix + "panicWindowPercentage"
	case AnnotationPanicThresholdPct:
		return AnnotationPrefix + "panicThresholdPercentage"
	case AnnotationMinScale:
		return AnnotationPrefix + "minScale"
	case AnnotationMaxScale:
		return AnnotationPrefix + "maxScale"
	case AnnotationInitialScale:
		return AnnotationPrefix + "initialScale"
	case AnnotationScaleDownDelay:
		return AnnotationPrefix + "scaleDownDelay"
	case AnnotationScaleToZeroPodRetention:
		return AnnotationPrefix + "scaleToZeroPodRetentionPeriod"
	case AnnotationMetricAggregation:
		return AnnotationPrefix + "metricAggregationAlgorithm"
	}
	return ""
}

// Spec is everything the autoscaler needs to know about one revision: the
// cluster Config resolved against the revision's annotations and
// containerConcurrency. Build it with [SpecFromAnnotations].
type Spec struct {
	// Class is the autoscaler class (KPA unless annotated otherwise).
	Class string
	// Metric is MetricConcurrency or MetricRPS.
	Metric string
	// Algorithm is AlgorithmLinear or AlgorithmWeightedExponential.
	Algorithm string
	// TotalValue is the per-pod capacity of the metric ("total").
	TotalValue float64
	// TargetValue is the per-pod set point: max(0.01, total × utilisation).
	TargetValue float64
	// PanicThreshold is a ratio (2.0 = 200 %).
	PanicThreshold float64
	// TargetBurstCapacity: -1 activator always in path, 0 only at zero.
	TargetBurstCapacity float64
	// StableWindow is the stable averaging window.
	StableWindow time.Duration
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
	// bound until it first reaches it.
	InitialScale int32
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
// validates the annotations like Knative's webhook does and returns an
// error naming the annotation and the value for the first bad one.
func SpecFromAnnotations(cfg Config, ann map[string]string, containerConcurrency int64) (Spec, error) {
	if containerConcurrency < 0 {
		return Spec{}, fmt.Errorf("autoscaler: containerConcurrency = %d: must be at least 0", containerConcurrency)
	}
	a := annotations{m: ann}
	s := Spec{
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
		ActivationTimeout:             DefaultProgressDeadline + ActivationTimeoutBuffer,
		Reachable:                     true,
	}

	// class
	classSet := false
	if v, ok := a.get(AnnotationClass); ok {
		if strings.HasSuffix(v, ".knative.dev") && v != ClassKPA && v != ClassHPA {
			return Spec{}, annErr(AnnotationClass, v, "must be "+ClassKPA+" or "+ClassHPA+" (or a class outside knative.dev)")
		}
		s.Class, classSet = v, true
	}
	// metric
	if k, v, ok := a.lookup(AnnotationMetric); ok {
		switch {
		case s.Class == ClassKPA && v != MetricConcurrency && v != MetricRPS:
			return Spec{}, annErr(k, v, "must be concurrency or rps for the KPA class")
		case s.Class == ClassHPA && v == "":
			return Spec{}, annErr(k, v, "must not be empty for the HPA class")
		}
		s.Metric = v
	}
	// target
	var target float64
	targetSet := false
	if k, v, ok := a.lookup(AnnotationTarget); ok {
		f, err := parseFloat(k, v)
		if err != nil {
			return Spec{}, err
		}
		if f < TargetMin {
			return Spec{}, annErr(k, v, "must be at least 0.01")
		}
		target, targetSet = f, true
	}
	tu := cfg.ContainerConcurrencyTargetFraction
	if s.Metric == MetricRPS {
		tu = cfg.TargetUtilization
	}
	if k, v, ok := a.lookup(AnnotationTargetUtilization); ok {
		f, err := parseFloat(k, v)
		if err != nil {
			return Spec{}, err
		}
		if f < 1 || f > 100 {
			return Spec{}, annErr(k, v, "must be in [1, 100]")
		}
		tu = f / 100
	}
	if k, v, ok := a.lookup(AnnotationTargetBurstCapacity); ok {
		f, err := parseFloat(k, v)
		if err != nil {
			return Spec{}, err
		}
		if f < 0 && f != -1 {
			return Spec{}, annErr(k, v, "must be at least 0 or exactly -1")
		}
		s.TargetBurstCapacity = f
	}
	if k, v, ok := a.lookup(AnnotationWindow); ok {
		d, err := parseDuration(k, v)
		if err != nil {
			return Spec{}, err
		}
		if d < WindowMin || d > WindowMax {
			return Spec{}, annErr(k, v, "must be in [6s, 1h]")
		}
		if d.Round(time.Second) != d {
			return Spec{}, annErr(k, v, "must be a whole number of seconds")
		}
		s.StableWindow = d
	}
	pwp := cfg.PanicWindowPercentage
	if k, v, ok := a.lookup(AnnotationPanicWindowPercentage); ok {
		f, err := parseFloat(k, v)
		if err != nil {
			return Spec{}, err
		}
		if f < PanicWindowPercentageMin || f > PanicWindowPercentageMax {
			return Spec{}, annErr(k, v, "must be in [1, 100]")
		}
		pwp = f
	}
	s.PanicWindow = PanicWindowFor(s.StableWindow, pwp)
	if k, v, ok := a.lookup(AnnotationPanicThresholdPct); ok {
		f, err := parseFloat(k, v)
		if err != nil {
			return Spec{}, err
		}
		if f < PanicThresholdPercentageMin || f > PanicThresholdPercentageMax {
			return Spec{}, annErr(k, v, "must be in [110, 1000]")
		}
		s.PanicThreshold = f / 100
	}
	// min-scale / max-scale
	minSet, maxSet := false, false
	if k, v, ok := a.lookup(AnnotationMinScale); ok {
		i, err := parseInt32(k, v)
		if err != nil {
			return Spec{}, err
		}
		if i < 0 {
			return Spec{}, annErr(k, v, "must be at least 0")
		}
		s.MinScale, minSet = i, true
	}
	if k, v, ok := a.lookup(AnnotationMaxScale); ok {
		i, err := parseInt32(k, v)
		if err != nil {
			return Spec{}, err
		}
		if i < 0 {
			return Spec{}, annErr(k, v, "must be at least 0")
		}
		if cfg.MaxScaleLimit > 0 && (i < 1 || i > cfg.MaxScaleLimit) {
			return Spec{}, annErr(k, v, fmt.Sprintf("must be in [1, %d] (max-scale-limit)", cfg.MaxScaleLimit))
		}
		s.MaxScale, maxSet = i, true
	}
	if minSet && maxSet && s.MaxScale != 0 && s.MaxScale < s.MinScale {
		return Spec{}, fmt.Errorf("autoscaler: annotation %s = %d must be at least %s = %d",
			AnnotationMaxScale, s.MaxScale, AnnotationMinScale, s.MinScale)
	}
	if k, v, ok := a.lookup(AnnotationInitialScale); ok {
		i, err := parseInt32(k, v)
		if err != nil {
			return Spec{}, err
		}
		if i < 0 || (i == 0 && !cfg.AllowZeroInitialScale) {
			return Spec{}, annErr(k, v, "must be at least 1, or 0 when allow-zero-initial-scale is true")
		}
		s.InitialScale = i
	}
	if k, v, ok := a.lookup(AnnotationActivationScale); ok {
		i, err := parseInt32(k, v)
		if err != nil {
			return Spec{}, err
		}
		switch {
		case minSet && i < s.MinScale:
			return Spec{}, annErr(k, v, "must be at least min-scale")
		case maxSet && s.MaxScale != 0 && i > s.MaxScale:
			return Spec{}, annErr(k, v, "must be at most max-scale")
		case i < 2:
			return Spec{}, annErr(k, v, "must be at least 2")
		}
		s.ActivationScale = i
	}
	if k, v, ok := a.lookup(AnnotationScaleDownDelay); ok {
		d, err := parseDuration(k, v)
		if err != nil {
			return Spec{}, err
		}
		if d < 0 || d > time.Hour {
			return Spec{}, annErr(k, v, "must be in [0s, 1h]")
		}
		if d.Round(time.Second) != d {
			return Spec{}, annErr(k, v, "must be a whole number of seconds")
		}
		s.ScaleDownDelay = d
	}
	if k, v, ok := a.lookup(AnnotationScaleToZeroPodRetention); ok {
		d, err := parseDuration(k, v)
		if err != nil {
			return Spec{}, err
		}
		if d < 0 || d > time.Hour {
			return Spec{}, annErr(k, v, "must be in [0s, 1h]")
		}
		s.ScaleToZeroPodRetentionPeriod = d
	}
	if k, v, ok := a.lookup(AnnotationMetricAggregation); ok {
		switch v {
		case AlgorithmWeightedExponential, algorithmWeightedExponentialAlt:
			s.Algorithm = AlgorithmWeightedExponential
		default:
			// Only validated when the class is explicitly KPA; otherwise
			// anything else silently means linear.
			if classSet && s.Class == ClassKPA && v != AlgorithmLinear {
				return Spec{}, annErr(k, v, "must be linear or weighted-exponential")
			}
		}
	}
	if k, v, ok := a.lookup(AnnotationProgressDeadline); ok {
		d, err := parseDuration(k, v)
		if err != nil {
			return Spec{}, err
		}
		if d <= 0 {
			return Spec{}, annErr(k, v, "must be positive")
		}
		s.ActivationTimeout = d + ActivationTimeoutBuffer
	}

	// Total and target (resources/target.go).
	switch {
	case s.Metric == MetricRPS:
		s.TotalValue = cfg.RPSTargetDefault
	case containerConcurrency > 0:
		s.TotalValue = float64(containerConcurrency)
	default:
		s.TotalValue = cfg.ContainerConcurrencyTargetDefault
	}
	if targetSet {
		s.TotalValue = target
		if s.Metric != MetricRPS && containerConcurrency > 0 {
			s.TotalValue = math.Min(target, float64(containerConcurrency))
		}
	}
	s.TargetValue = math.Max(TargetMin, s.TotalValue*tu)
	return s, nil
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

type annotations struct{ m map[string]string }

func (a annotations) get(key string) (string, bool) {
	v, ok := a.m[key]
	return v, ok
}

// lookup returns the key that was used (kebab-case first, then its alias).
func (a annotations) lookup(key string) (string, string, bool) {
	if v, ok := a.m[key]; ok {
		return key, v, true
	}
	if al := alias(key); al != "" {
		if v, ok := a.m[al]; ok {
			return al, v, true
		}
	}
	return "", "", false
}

func annErr(key, v, why string) error {
	return fmt.Errorf("autoscaler: annotation %s = %q: %s", key, v, why)
}

func parseFloat(key, v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, annErr(key, v, "not a finite number")
	}
	return f, nil
}

func parseInt32(key, v string) (int32, error) {
	i, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, annErr(key, v, "not a 32-bit integer")
	}
	return int32(i), nil
}

func parseDuration(key, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, annErr(key, v, "not a duration (want e.g. 30s or 1m)")
	}
	return d, nil
}
