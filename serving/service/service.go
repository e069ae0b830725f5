package service

import (
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/serving"
	v1 "github.com/servekit/servekit/serving/v1"
)

// MakeConfiguration returns the Configuration that svc manages, as Knative
// creates it: MakeConfigurationFromExisting with no existing Configuration.
func MakeConfiguration(svc *v1.Service) *v1.Configuration {
	return MakeConfigurationFromExisting(svc, nil)
}

// MakeConfigurationFromExisting returns the Configuration that svc
// manages, given the one that exists already (nil if none):
//
//   - name and namespace of svc, a controller owner reference to svc;
//   - labels: svc's, plus serving.knative.dev/service = svc's name and
//     serving.knative.dev/serviceUID = svc's UID;
//   - annotations: svc's, minus kubectl's last-applied-configuration and
//     the rollout-duration keys (they belong to the Route), plus
//     serving.knative.dev/routes: the sorted, comma-separated union of the
//     routes already on existing and svc's own Route (svc's name);
//   - spec: a deep copy of svc's template.
//
// The result shares nothing with svc or existing.
func MakeConfigurationFromExisting(svc *v1.Service, existing *v1.Configuration) *v1.Configuration {
	labels := make(map[string]string, len(svc.Labels)+2)
	maps.Copy(labels, svc.Labels)
	labels[serving.ServiceLabelKey] = svc.Name
	labels[serving.ServiceUIDLabelKey] = string(svc.UID)

	anns := filterAnnotations(svc.Annotations, 1,
		serving.LastAppliedConfigAnnotation, serving.RolloutDurationKey, serving.RolloutDurationKeyLegacy)
	routes := []string{svc.Name}
	if existing != nil {
		for _, r := range strings.Split(existing.Annotations[serving.RoutesAnnotationKey], ",") {
			if r != "" && !slices.Contains(routes, r) {
				routes = append(routes, r)
			}
		}
	}
	slices.Sort(routes)
	anns[serving.RoutesAnnotationKey] = strings.Join(routes, ",")

	cfg := &v1.Configuration{
		TypeMeta: metav1.TypeMeta{APIVersion: v1.SchemeGroupVersion.String(), Kind: v1.KindConfiguration},
		ObjectMeta: metav1.ObjectMeta{
			Name:            svc.Name,
			Namespace:       svc.Namespace,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(svc, v1.SchemeGroupVersion.WithKind(v1.KindService))},
			Labels:          labels,
			Annotations:     anns,
		},
	}
	svc.Spec.ConfigurationSpec.DeepCopyInto(&cfg.Spec)
	return cfg
}

// MakeRoute returns the Route that svc manages:
//
//   - name and namespace of svc, a controller owner reference to svc;
//   - labels: svc's plus serving.knative.dev/service = svc's name (they
//     drive domain selection and visibility);
//   - annotations: svc's minus kubectl's last-applied-configuration (the
//     rollout duration is kept: the Route performs the rollout);
//   - spec.traffic: a deep copy of svc's, where every entry without a
//     revisionName gets configurationName = svc's name.
//
// The result shares nothing with svc.
func MakeRoute(svc *v1.Service) *v1.Route {
	labels := make(map[string]string, len(svc.Labels)+1)
	maps.Copy(labels, svc.Labels)
	labels[serving.ServiceLabelKey] = svc.Name

	r := &v1.Route{
		TypeMeta: metav1.TypeMeta{APIVersion: v1.SchemeGroupVersion.String(), Kind: v1.KindRoute},
		ObjectMeta: metav1.ObjectMeta{
			Name:            svc.Name,
			Namespace:       svc.Namespace,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(svc, v1.SchemeGroupVersion.WithKind(v1.KindService))},
			Labels:          labels,
			Annotations:     filterAnnotations(svc.Annotations, 0, serving.LastAppliedConfigAnnotation),
		},
	}
	svc.Spec.RouteSpec.DeepCopyInto(&r.Spec)
	for i := range r.Spec.Traffic {
		if r.Spec.Traffic[i].RevisionName == "" {
			r.Spec.Traffic[i].ConfigurationName = svc.Name
		}
	}
	return r
}

// ApplyConfiguration returns existing with the spec, labels and
// annotations of desired, and whether they differed (semantic equality,
// so 1000m and 1 CPU are the same). When nothing differs it returns
// existing itself and false; otherwise a deep copy, so existing (for
// example an informer's cached object) is never modified. Everything else
// of existing (status, resourceVersion, other metadata) is kept.
//
// Knative first re-applies defaults to existing, so that a newly added
// default does not look like a change; callers that can should do the
// same before calling ApplyConfiguration.
func ApplyConfiguration(existing, desired *v1.Configuration) (*v1.Configuration, bool) {
	if equality.Semantic.DeepEqual(existing.Spec, desired.Spec) &&
		equality.Semantic.DeepEqual(existing.Labels, desired.Labels) &&
		equality.Semantic.DeepEqual(existing.Annotations, desired.Annotations) {
		return existing, false
	}
	out := existing.DeepCopy()
	desired.Spec.DeepCopyInto(&out.Spec)
	out.Labels = maps.Clone(desired.Labels)
	out.Annotations = maps.Clone(desired.Annotations)
	return out, true
}

// ApplyRoute is ApplyConfiguration for Routes.
func ApplyRoute(existing, desired *v1.Route) (*v1.Route, bool) {
	if equality.Semantic.DeepEqual(existing.Spec, desired.Spec) &&
		equality.Semantic.DeepEqual(existing.Labels, desired.Labels) &&
		equality.Semantic.DeepEqual(existing.Annotations, desired.Annotations) {
		return existing, false
	}
	out := existing.DeepCopy()
	desired.Spec.DeepCopyInto(&out.Spec)
	out.Labels = maps.Clone(desired.Labels)
	out.Annotations = maps.Clone(desired.Annotations)
	return out, true
}

// filterAnnotations copies in without the dropped keys, with room for
// extra more entries. The result is never nil.
func filterAnnotations(in map[string]string, extra int, drop ...string) map[string]string {
	out := make(map[string]string, len(in)+extra)
	for k, v := range in {
		if !slices.Contains(drop, k) {
			out[k] = v
		}
	}
	return out
}
