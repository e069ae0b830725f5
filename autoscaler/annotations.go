package autoscaler

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// GroupName is the autoscaling API group; every autoscaling annotation key
// starts with it.
const GroupName = "autoscaling.knative.dev"

// Metric names for the metric annotation. The KPA class takes
// MetricConcurrency or MetricRPS; the HPA class any non-empty name, usually
// MetricCPU or MetricMemory.
const (
	MetricConcurrency = "concurrency"
	MetricRPS         = "rps"
	MetricCPU         = "cpu"
	MetricMemory      = "memory"
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
// when both are present. [AnnotationKeys] lists them all.
const (
	AnnotationPrefix                  = GroupName + "/"
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
	// the activation timeout is this plus 30 s. It is not an autoscaling
	// annotation: ValidateAnnotations leaves it to the serving API.
	AnnotationProgressDeadline = "serving.knative.dev/progress-deadline"
)

// AnnotationErrorKind says how Knative's webhook reports an
// [AnnotationError], so that an API layer can render Knative's message.
type AnnotationErrorKind int

const (
	// KindInvalidValue is Knative's apis.ErrInvalidValue: "invalid value:
	// <Value>", followed by Message as a detail when it is not empty.
	KindInvalidValue AnnotationErrorKind = iota
	// KindOutOfBounds is Knative's apis.ErrOutOfBoundsValue:
	// "expected <Min> <= <Bad> <= <Max>".
	KindOutOfBounds
	// KindGeneric is Knative's apis.ErrGeneric: the message is Message.
	KindGeneric
)

// AnnotationError is one invalid annotation. Error renders servekit's
// message ("autoscaler: annotation <key> = <value>: <reason>"); Kind, Bad,
// Min, Max and Message carry what Knative's webhook would say, for the
// serving API's validation.
type AnnotationError struct {
	// Key is the annotation as written: the kebab-case key or its legacy
	// alias.
	Key string
	// Value is the annotation's value, verbatim.
	Value string
	// Reason says what is wrong, in servekit's words.
	Reason string
	// Kind is how Knative reports the error.
	Kind AnnotationErrorKind
	// Bad, Min and Max are set for KindOutOfBounds: the value as Knative
	// prints it (the string, or the parsed integer for scales) and the
	// bounds. Nil otherwise.
	Bad, Min, Max any
	// Message is Knative's message for KindGeneric, or the detail that
	// follows "invalid value" for KindInvalidValue (empty: none). A value
	// quoted in it is cut to 64 bytes.
	Message string
	// Others lists further keys the error is also about (max-scale below
	// min-scale names min-scale too); nil means none.
	Others []string
}

// Error implements error.
func (e *AnnotationError) Error() string {
	return fmt.Sprintf("autoscaler: annotation %s = %q: %s", e.Key, shortValue(e.Value), e.Reason)
}

// maxValueInMessage bounds how much of a value an error quotes, so that a
// 2 MB annotation gives a readable error.
const maxValueInMessage = 64

func shortValue(v string) string {
	if len(v) <= maxValueInMessage {
		return v
	}
	return fmt.Sprintf("%s...(%d bytes)", v[:maxValueInMessage], len(v))
}

// annotationRule is one row of the annotation table: the key, its legacy
// alias ("" when Knative has none), and the parser that checks the value
// against its bounds and stores it in the state. Rules run in table order,
// so a rule may read what earlier rows stored (metric reads the class,
// activation-scale reads min-scale and max-scale).
type annotationRule struct {
	key, alias string
	parse      func(s *annotationState, key, v string) *AnnotationError
}

// annotationState is a Spec being built plus what the rules need to know
// about the annotations already read.
type annotationState struct {
	cfg  Config
	spec Spec
	// classSet: the class annotation is present (algorithm is validated
	// only for an explicit KPA class).
	classSet bool
	// minSet, maxSet: min-scale and max-scale parsed successfully; minKey
	// is the key min-scale was read from (kebab-case or alias).
	minSet, maxSet bool
	minKey         string
	// target, targetSet: the target annotation (applied last, it depends on
	// the metric and containerConcurrency).
	target    float64
	targetSet bool
	// utilization as a fraction (0 = use the config's for the metric), and
	// the panic window percentage.
	utilization, panicWindowPct float64
}

// annotationTable is the single definition of the autoscaling
// annotations: keys, aliases, parsers and bounds (Knative's
// knative.dev/serving/pkg/apis/autoscaling/annotation_validation.go and
// register.go). The order is the order errors are found in.
var annotationTable = []annotationRule{
	{AnnotationClass, "", parseClass},
	{AnnotationMetric, "", parseMetric},
	{AnnotationTarget, "", parseTarget},
	{AnnotationTargetUtilization, "targetUtilizationPercentage",
		floatRule(1, 100, func(s *annotationState, f float64) { s.utilization = f / 100 })},
	{AnnotationTargetBurstCapacity, "targetBurstCapacity", parseTargetBurstCapacity},
	{AnnotationWindow, "",
		durationRule(WindowMin, WindowMax, true, func(s *annotationState, d time.Duration) { s.spec.StableWindow, s.spec.WindowSet = d, true })},
	{AnnotationPanicWindowPercentage, "panicWindowPercentage",
		floatRule(PanicWindowPercentageMin, PanicWindowPercentageMax, func(s *annotationState, f float64) { s.panicWindowPct = f })},
	{AnnotationPanicThresholdPct, "panicThresholdPercentage",
		floatRule(PanicThresholdPercentageMin, PanicThresholdPercentageMax, func(s *annotationState, f float64) { s.spec.PanicThreshold = f / 100 })},
	{AnnotationMinScale, "minScale", parseMinScale},
	{AnnotationMaxScale, "maxScale", parseMaxScale},
	{AnnotationInitialScale, "initialScale", parseInitialScale},
	{AnnotationActivationScale, "", parseActivationScale},
	{AnnotationScaleDownDelay, "scaleDownDelay",
		durationRule(0, time.Hour, true, func(s *annotationState, d time.Duration) { s.spec.ScaleDownDelay = d })},
	{AnnotationScaleToZeroPodRetention, "scaleToZeroPodRetentionPeriod",
		durationRule(0, time.Hour, false, func(s *annotationState, d time.Duration) { s.spec.ScaleToZeroPodRetentionPeriod = d })},
	{AnnotationMetricAggregation, "metricAggregationAlgorithm", parseAlgorithm},
	{AnnotationProgressDeadline, "", parseProgressDeadline},
}

// metricRule is the metric annotation's row.
var metricRule = annotationRule{key: AnnotationMetric}

// AnnotationKeys returns every autoscaling annotation key the autoscaler
// reads, each kebab-case key followed by its legacy alias when Knative has
// one. serving.knative.dev/progress-deadline is not among them.
func AnnotationKeys() []string {
	var keys []string
	for _, r := range annotationTable {
		if !strings.HasPrefix(r.key, AnnotationPrefix) {
			continue
		}
		keys = append(keys, r.key)
		if r.alias != "" {
			keys = append(keys, AnnotationPrefix+r.alias)
		}
	}
	return keys
}

// ValidateAnnotations checks a revision's autoscaling.knative.dev/*
// annotations (and their legacy aliases) against cfg the way Knative's
// webhook does, and returns every problem found, in table order, or nil.
// Unknown keys under the prefix are not errors (Knative ignores them), and
// serving.knative.dev/progress-deadline is not checked here.
//
// [SpecFromAnnotations] applies the same rules and stops at the first
// problem.
func ValidateAnnotations(cfg Config, ann map[string]string) []*AnnotationError {
	_, errs := readAnnotations(cfg, ann, true)
	return errs
}

// readAnnotations runs the table over ann. With all, it goes on after an
// error (skipping the progress deadline, which is not an autoscaling
// annotation); otherwise it stops at the first one.
func readAnnotations(cfg Config, ann map[string]string, all bool) (*annotationState, []*AnnotationError) {
	s := &annotationState{cfg: cfg, spec: baseSpec(cfg), panicWindowPct: cfg.PanicWindowPercentage}
	var errs []*AnnotationError
	for _, r := range annotationTable {
		if all && !strings.HasPrefix(r.key, AnnotationPrefix) {
			continue
		}
		key, v, ok := r.lookup(ann)
		if !ok {
			continue
		}
		if err := r.parse(s, key, v); err != nil {
			errs = append(errs, err)
			if !all {
				break
			}
		}
	}
	return s, errs
}

// lookup returns the key that was used (kebab-case first, then the alias).
func (r annotationRule) lookup(ann map[string]string) (key, v string, ok bool) {
	if v, ok := ann[r.key]; ok {
		return r.key, v, true
	}
	if r.alias != "" {
		if v, ok := ann[AnnotationPrefix+r.alias]; ok {
			return AnnotationPrefix + r.alias, v, true
		}
	}
	return "", "", false
}

// invalid is a KindInvalidValue error; detail is Knative's extra detail.
func invalid(key, v, reason, detail string) *AnnotationError {
	return &AnnotationError{Key: key, Value: v, Reason: reason, Kind: KindInvalidValue, Message: detail}
}

func outOfBounds(key, v, reason string, bad, lo, hi any) *AnnotationError {
	return &AnnotationError{Key: key, Value: v, Reason: reason, Kind: KindOutOfBounds, Bad: bad, Min: lo, Max: hi}
}

func generic(key, v, reason, msg string) *AnnotationError {
	return &AnnotationError{Key: key, Value: v, Reason: reason, Kind: KindGeneric, Message: msg}
}

func parseClass(s *annotationState, key, v string) *AnnotationError {
	if strings.HasSuffix(v, ".knative.dev") && v != ClassKPA && v != ClassHPA {
		return invalid(key, v, "must be "+ClassKPA+" or "+ClassHPA+" (or a class outside knative.dev)", "")
	}
	s.spec.Class, s.classSet = v, true
	return nil
}

// parseMetric checks the metric against the class: the class annotation,
// else the config's default class.
func parseMetric(s *annotationState, key, v string) *AnnotationError {
	switch {
	case s.spec.Class == ClassKPA && v != MetricConcurrency && v != MetricRPS:
		return invalid(key, v, "must be concurrency or rps for the KPA class", "")
	case s.spec.Class == ClassHPA && v == "":
		return invalid(key, v, "must not be empty for the HPA class", "")
	}
	s.spec.Metric = v
	return nil
}

func parseTarget(s *annotationState, key, v string) *AnnotationError {
	f, err := parseFloat(key, v)
	if err != nil {
		return err
	}
	if f < TargetMin {
		return generic(key, v, "must be at least 0.01",
			fmt.Sprintf("target %s should be at least %v", shortValue(v), TargetMin))
	}
	s.target, s.targetSet = f, true
	return nil
}

func parseTargetBurstCapacity(s *annotationState, key, v string) *AnnotationError {
	f, err := parseFloat(key, v)
	if err != nil {
		return err
	}
	if f < 0 && f != -1 {
		return invalid(key, v, "must be at least 0 or exactly -1", "")
	}
	s.spec.TargetBurstCapacity = f
	return nil
}

// floatRule is a float annotation in [lo, hi].
func floatRule(lo, hi float64, set func(*annotationState, float64)) func(*annotationState, string, string) *AnnotationError {
	return func(s *annotationState, key, v string) *AnnotationError {
		f, err := parseFloat(key, v)
		if err != nil {
			return err
		}
		if f < lo || f > hi {
			return outOfBounds(key, v, fmt.Sprintf("must be in [%v, %v]", lo, hi), v, lo, hi)
		}
		set(s, f)
		return nil
	}
}

// durationRule is a duration annotation in [lo, hi], in whole seconds when
// wholeSeconds.
func durationRule(lo, hi time.Duration, wholeSeconds bool, set func(*annotationState, time.Duration)) func(*annotationState, string, string) *AnnotationError {
	return func(s *annotationState, key, v string) *AnnotationError {
		d, err := parseDuration(key, v)
		if err != nil {
			return err
		}
		if d < lo || d > hi {
			return outOfBounds(key, v, fmt.Sprintf("must be in [%v, %v]", lo, shortDuration(hi)), v, lo, hi)
		}
		if wholeSeconds && d.Round(time.Second) != d {
			return generic(key, v, "must be a whole number of seconds", "must be specified with at most second precision")
		}
		set(s, d)
		return nil
	}
}

// shortDuration prints 1h for an hour (the reason texts' style).
func shortDuration(d time.Duration) string {
	if d == time.Hour {
		return "1h"
	}
	return d.String()
}

// scale parses a min-scale or max-scale: an int32 at least 0.
func scale(key, v string) (int32, *AnnotationError) {
	i, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, invalid(key, v, "not a 32-bit integer", "")
	}
	if i < 0 {
		return 0, outOfBounds(key, v, "must be at least 0", i, 0, math.MaxInt32)
	}
	return int32(i), nil
}

func parseMinScale(s *annotationState, key, v string) *AnnotationError {
	i, err := scale(key, v)
	if err != nil {
		return err
	}
	s.spec.MinScale, s.minSet, s.minKey = i, true, key
	return nil
}

// parseMaxScale also checks max-scale-limit and that max-scale is not
// below min-scale.
func parseMaxScale(s *annotationState, key, v string) *AnnotationError {
	i, err := scale(key, v)
	if err != nil {
		return err
	}
	if limit := s.cfg.MaxScaleLimit; limit > 0 && (i < 1 || i > limit) {
		return outOfBounds(key, v, fmt.Sprintf("must be in [1, %d] (max-scale-limit)", limit), int64(i), 1, limit)
	}
	s.spec.MaxScale, s.maxSet = i, true
	if s.minSet && i != 0 && i < s.spec.MinScale {
		minKey := s.minKey
		return &AnnotationError{
			Key: key, Value: v, Kind: KindGeneric,
			Reason:  fmt.Sprintf("must be at least %s = %d", minKey, s.spec.MinScale),
			Message: fmt.Sprintf("max-scale=%d is less than min-scale=%d", i, s.spec.MinScale),
			Others:  []string{minKey},
		}
	}
	return nil
}

func parseInitialScale(s *annotationState, key, v string) *AnnotationError {
	i, err := strconv.ParseInt(v, 10, 32)
	const reason = "must be at least 1, or 0 when allow-zero-initial-scale is true"
	switch {
	case err != nil || i < 0:
		return invalid(key, v, reason, "")
	case i == 0 && !s.cfg.AllowZeroInitialScale:
		return invalid(key, v, reason, "initial-scale=0 not allowed by cluster")
	}
	s.spec.InitialScale = int32(i)
	return nil
}

// parseActivationScale checks, in this order and reporting the first
// failure only: at least min-scale, at most max-scale (when not 0), at
// least 2.
func parseActivationScale(s *annotationState, key, v string) *AnnotationError {
	i, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return invalid(key, v, "not a 32-bit integer", "")
	}
	switch {
	case s.minSet && i < int64(s.spec.MinScale):
		return generic(key, v, "must be at least min-scale",
			fmt.Sprintf("activation-scale=%d must be greater than or equal to min-scale=%d", i, s.spec.MinScale))
	case s.maxSet && s.spec.MaxScale != 0 && i > int64(s.spec.MaxScale):
		return generic(key, v, "must be at most max-scale",
			fmt.Sprintf("activation-scale=%d must be less than or equal to max-scale=%d", i, s.spec.MaxScale))
	case i < 2:
		return outOfBounds(key, v, "must be at least 2", i, 2, math.MaxInt32)
	}
	s.spec.ActivationScale = int32(i)
	return nil
}

// parseAlgorithm accepts anything unless the class annotation is
// explicitly KPA; anything but the weighted names means linear.
func parseAlgorithm(s *annotationState, key, v string) *AnnotationError {
	switch v {
	case AlgorithmWeightedExponential, algorithmWeightedExponentialAlt:
		s.spec.Algorithm = AlgorithmWeightedExponential
	default:
		if s.classSet && s.spec.Class == ClassKPA && v != AlgorithmLinear {
			return invalid(key, v, "must be linear or weighted-exponential", "")
		}
	}
	return nil
}

func parseProgressDeadline(s *annotationState, key, v string) *AnnotationError {
	d, err := parseDuration(key, v)
	if err != nil {
		return err
	}
	if d <= 0 {
		return invalid(key, v, "must be positive", "")
	}
	s.spec.ActivationTimeout = d + ActivationTimeoutBuffer
	return nil
}

func parseFloat(key, v string) (float64, *AnnotationError) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, invalid(key, v, "not a finite number", "")
	}
	return f, nil
}

func parseDuration(key, v string) (time.Duration, *AnnotationError) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, invalid(key, v, "not a duration (want e.g. 30s or 1m)", "")
	}
	return d, nil
}
