package v1

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/servekit/servekit/serving"
)

const secondDuration = time.Second

func parseDuration(v string) (time.Duration, error) { return time.ParseDuration(v) }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Bounds of the autoscaling annotations (Knative's autoscaling package).
const (
	windowMin                   = 6 * time.Second
	windowMax                   = time.Hour
	scaleDownDelayMax           = time.Hour
	panicWindowPercentageMin    = 1.0
	panicWindowPercentageMax    = 100.0
	panicThresholdPercentageMin = 110.0
	panicThresholdPercentageMax = 1000.0
	targetMin                   = 0.01
)

// validateAutoscalingAnnotations checks the autoscaling.knative.dev/*
// annotations of a revision template or Revision (p = ...annotations).
// Each error's path is p.<key>.
func validateAutoscalingAnnotations(ann map[string]string, p *field.Path, _ Defaults) field.ErrorList {
	var errs field.ErrorList
	key := func(k string) *field.Path { return p.Child(k) }

	class := serving.KPA
	if v, ok := ann[serving.ClassAnnotationKey]; ok {
		class = v
		if strings.HasSuffix(v, ".knative.dev") && v != serving.KPA && v != serving.HPA {
			errs = append(errs, errInvalidValue(key(serving.ClassAnnotationKey), v))
		}
	}

	minScale, minOK, e := parseInt32Annotation(ann, serving.MinScaleAnnotationKey, key)
	errs = append(errs, e...)
	maxScale, maxOK, e := parseInt32Annotation(ann, serving.MaxScaleAnnotationKey, key)
	errs = append(errs, e...)
	if minOK && maxOK && maxScale != 0 && maxScale < minScale {
		msg := fmt.Sprintf("max-scale=%d is less than min-scale=%d", maxScale, minScale)
		errs = append(errs, errGeneric(key(serving.MaxScaleAnnotationKey), maxScale, msg), errGeneric(key(serving.MinScaleAnnotationKey), minScale, msg))
	}
	if v, ok := ann[serving.ActivationScaleAnnotationKey]; ok {
		n, err := strconv.ParseInt(v, 10, 32)
		switch {
		case err != nil:
			errs = append(errs, errInvalidValue(key(serving.ActivationScaleAnnotationKey), v))
		case n < 2:
			errs = append(errs, errOutOfBounds(key(serving.ActivationScaleAnnotationKey), n, 2, math.MaxInt32))
		case maxOK && maxScale != 0 && int32(n) > maxScale:
			errs = append(errs, errGeneric(key(serving.ActivationScaleAnnotationKey), n,
				fmt.Sprintf("activation-scale=%d must be less than or equal to max-scale=%d", n, maxScale)))
		}
	}
	if v, ok := ann[serving.InitialScaleAnnotationKey]; ok {
		n, err := strconv.ParseInt(v, 10, 32)
		switch {
		case err != nil || n < 0:
			errs = append(errs, errInvalidValue(key(serving.InitialScaleAnnotationKey), v))
		case n == 0:
			// config-autoscaler allow-zero-initial-scale is false by default.
			errs = append(errs, errInvalidValue(key(serving.InitialScaleAnnotationKey), v, "initial-scale=0 not allowed by cluster"))
		}
	}
	if v, ok := ann[serving.TargetAnnotationKey]; ok {
		f, err := strconv.ParseFloat(v, 64)
		switch {
		case err != nil || math.IsNaN(f):
			errs = append(errs, errInvalidValue(key(serving.TargetAnnotationKey), v))
		case f < targetMin:
			errs = append(errs, errGeneric(key(serving.TargetAnnotationKey), v, fmt.Sprintf("target %s should be at least %v", shorten(v), targetMin)))
		}
	}
	errs = append(errs, floatInRange(ann, serving.TargetUtilizationPercentageAnnotationKey, 1, 100, key)...)
	errs = append(errs, floatInRange(ann, serving.PanicWindowPercentageAnnotationKey, panicWindowPercentageMin, panicWindowPercentageMax, key)...)
	errs = append(errs, floatInRange(ann, serving.PanicThresholdPercentageAnnotationKey, panicThresholdPercentageMin, panicThresholdPercentageMax, key)...)
	if v, ok := ann[serving.TargetBurstCapacityAnnotationKey]; ok {
		if f, err := strconv.ParseFloat(v, 64); err != nil || math.IsNaN(f) || (f < 0 && f != -1) {
			errs = append(errs, errInvalidValue(key(serving.TargetBurstCapacityAnnotationKey), v))
		}
	}
	errs = append(errs, durationInRange(ann, serving.WindowAnnotationKey, windowMin, windowMax, key)...)
	errs = append(errs, durationInRange(ann, serving.ScaleDownDelayAnnotationKey, 0, scaleDownDelayMax, key)...)
	errs = append(errs, durationInRange(ann, serving.ScaleToZeroPodRetentionPeriodKey, 0, scaleDownDelayMax, key)...)
	if v, ok := ann[serving.MetricAnnotationKey]; ok {
		switch class {
		case serving.KPA:
			if v != serving.Concurrency && v != serving.RPS {
				errs = append(errs, errInvalidValue(key(serving.MetricAnnotationKey), v))
			}
		case serving.HPA:
			if v == "" {
				errs = append(errs, errInvalidValue(key(serving.MetricAnnotationKey), v))
			}
		}
	}
	if v, ok := ann[serving.MetricAggregationAlgorithmKey]; ok {
		if !strings.EqualFold(v, "linear") && !strings.EqualFold(v, "weightedExponential") {
			errs = append(errs, errInvalidValue(key(serving.MetricAggregationAlgorithmKey), v))
		}
	}
	return errs
}

func parseInt32Annotation(ann map[string]string, k string, key func(string) *field.Path) (int32, bool, field.ErrorList) {
	v, ok := ann[k]
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, false, field.ErrorList{errInvalidValue(key(k), v)}
	}
	if n < 0 {
		return 0, false, field.ErrorList{errOutOfBounds(key(k), n, 0, math.MaxInt32)}
	}
	return int32(n), true, nil
}

func floatInRange(ann map[string]string, k string, lo, hi float64, key func(string) *field.Path) field.ErrorList {
	v, ok := ann[k]
	if !ok {
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) {
		return field.ErrorList{errInvalidValue(key(k), v)}
	}
	if f < lo || f > hi {
		return field.ErrorList{errOutOfBounds(key(k), v, lo, hi)}
	}
	return nil
}

func durationInRange(ann map[string]string, k string, lo, hi time.Duration, key func(string) *field.Path) field.ErrorList {
	v, ok := ann[k]
	if !ok {
		return nil
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return field.ErrorList{errInvalidValue(key(k), v)}
	case d < lo || d > hi:
		return field.ErrorList{errOutOfBounds(key(k), v, lo, hi)}
	case d.Round(time.Second) != d:
		return field.ErrorList{errGeneric(key(k), v, "must be specified with at most second precision")}
	}
	return nil
}

func queueSidecarQuantityAnnotations() []string {
	return []string{
		serving.QueueSidecarCPUResourceRequestAnnotationKey,
		serving.QueueSidecarCPUResourceLimitAnnotationKey,
		serving.QueueSidecarMemoryResourceRequestAnnotationKey,
		serving.QueueSidecarMemoryResourceLimitAnnotationKey,
		serving.QueueSidecarEphemeralStorageResourceRequestAnnotationKey,
		serving.QueueSidecarEphemeralStorageResourceLimitAnnotationKey,
	}
}

// validateQueueSidecarAnnotations checks that the queue-proxy resource
// annotations parse as quantities. (Knative only warns about the
// deprecated resource-percentage annotation; field.ErrorList has no
// warnings, so it is not checked.)
func validateQueueSidecarAnnotations(ann map[string]string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range queueSidecarQuantityAnnotations() {
		if v, ok := ann[k]; ok {
			if _, err := resource.ParseQuantity(v); err != nil {
				errs = append(errs, errInvalidValue(p.Child(k), v))
			}
		}
	}
	return errs
}
