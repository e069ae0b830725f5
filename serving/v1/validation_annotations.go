package v1

import (
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/servekit/servekit/autoscaler"
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

// validateAutoscalingAnnotations checks the autoscaling.knative.dev/*
// annotations of a revision template or Revision (p = ...annotations) with
// the autoscaler's own rules (autoscaler.ValidateAnnotations, against
// d.Autoscaler, or the default config-autoscaler when nil) and renders each
// problem as Knative's webhook does. Each error's path is p.<key>.
func validateAutoscalingAnnotations(ann map[string]string, p *field.Path, d Defaults) field.ErrorList {
	cfg := autoscaler.DefaultConfig()
	if d.Autoscaler != nil {
		cfg = *d.Autoscaler
	}
	var errs field.ErrorList
	for _, e := range autoscaler.ValidateAnnotations(cfg, ann) {
		path := p.Child(e.Key)
		switch e.Kind {
		case autoscaler.KindOutOfBounds:
			errs = append(errs, errOutOfBounds(path, e.Bad, e.Min, e.Max))
		case autoscaler.KindGeneric:
			errs = append(errs, errGeneric(path, e.Value, e.Message))
			for _, k := range e.Others {
				errs = append(errs, errGeneric(p.Child(k), ann[k], e.Message))
			}
		default:
			var details []string
			if e.Message != "" {
				details = append(details, e.Message)
			}
			errs = append(errs, errInvalidValue(path, e.Value, details...))
		}
	}
	return errs
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
