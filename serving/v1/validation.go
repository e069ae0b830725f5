package v1

import (
	"fmt"
	"strings"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/serving"
)

// Validate checks a Service as Knative's validating webhook does on
// create, after SetDefaults: metadata (name, no autoscaling annotations,
// rollout-duration, visibility label), the revision template and the
// traffic. Paths are Knative's (metadata.name,
// spec.template.spec.containerConcurrency, spec.traffic[0].percent, ...).
func (s *Service) Validate(d Defaults) field.ErrorList {
	md := field.NewPath("metadata")
	errs := validateObjectMeta(&s.ObjectMeta, md, false, d)
	errs = append(errs, validateRolloutDuration(s.Annotations, md.Child("annotations"))...)
	errs = append(errs, validateVisibilityLabel(s.Labels, md.Child("labels"))...)
	spec := field.NewPath("spec")
	errs = append(errs, s.Spec.Template.validate(d, &s.ObjectMeta, spec.Child("template"))...)
	errs = append(errs, validateTraffic(s.Spec.Traffic, true, spec.Child("traffic"))...)
	return errs
}

// ValidateUpdate is Validate plus the update rules: the creator
// annotation is immutable, lastModifier may change only with the spec, and
// a template with an unchanged bring-your-own name must be unchanged.
func (s *Service) ValidateUpdate(old *Service, d Defaults) field.ErrorList {
	errs := s.Validate(d)
	errs = append(errs, validateCreatorAndModifier(old.Spec, s.Spec, old.Annotations, s.Annotations)...)
	errs = append(errs, verifyNameChange(&s.Spec.Template, &old.Spec.Template, field.NewPath("spec", "template"))...)
	return errs
}

// Validate checks a Configuration as Knative does on create: metadata,
// the serving.knative.dev/service label against the owner references, and
// the revision template.
func (c *Configuration) Validate(d Defaults) field.ErrorList {
	md := field.NewPath("metadata")
	errs := validateObjectMeta(&c.ObjectMeta, md, false, d)
	errs = append(errs, validateOwnerLabel(&c.ObjectMeta, serving.ServiceLabelKey, KindService, md.Child("labels"))...)
	errs = append(errs, c.Spec.Template.validate(d, &c.ObjectMeta, field.NewPath("spec", "template"))...)
	return errs
}

// ValidateUpdate is Validate plus the update rules (see
// Service.ValidateUpdate). The creator/lastModifier rules are skipped for
// a Configuration with owner references (one a Service manages).
func (c *Configuration) ValidateUpdate(old *Configuration, d Defaults) field.ErrorList {
	errs := c.Validate(d)
	if len(c.OwnerReferences) == 0 {
		errs = append(errs, validateCreatorAndModifier(old.Spec, c.Spec, old.Annotations, c.Annotations)...)
	}
	errs = append(errs, verifyNameChange(&c.Spec.Template, &old.Spec.Template, field.NewPath("spec", "template"))...)
	return errs
}

// Validate checks a Route as Knative does: metadata, rollout-duration, the
// visibility and service labels, and the traffic (each target names
// exactly one of revisionName and configurationName; percents sum to 100).
func (r *Route) Validate(d Defaults) field.ErrorList {
	md := field.NewPath("metadata")
	errs := validateObjectMeta(&r.ObjectMeta, md, false, d)
	errs = append(errs, validateVisibilityLabel(r.Labels, md.Child("labels"))...)
	errs = append(errs, validateOwnerLabel(&r.ObjectMeta, serving.ServiceLabelKey, KindService, md.Child("labels"))...)
	errs = append(errs, validateRolloutDuration(r.Annotations, md.Child("annotations"))...)
	errs = append(errs, validateTraffic(r.Spec.Traffic, false, field.NewPath("spec", "traffic"))...)
	return errs
}

// ValidateUpdate is Validate plus the creator/lastModifier rules (skipped
// for a Route with owner references).
func (r *Route) ValidateUpdate(old *Route, d Defaults) field.ErrorList {
	errs := r.Validate(d)
	if len(r.OwnerReferences) == 0 {
		errs = append(errs, validateCreatorAndModifier(old.Spec, r.Spec, old.Annotations, r.Annotations)...)
	}
	return errs
}

// Validate checks a Revision being created: metadata (autoscaling
// annotations are validated here, not rejected), the
// serving.knative.dev/configuration label against the owner references,
// and the spec.
func (r *Revision) Validate(d Defaults) field.ErrorList {
	md := field.NewPath("metadata")
	errs := validateObjectMeta(&r.ObjectMeta, md, true, d)
	errs = append(errs, validateOwnerLabel(&r.ObjectMeta, serving.ConfigurationLabelKey, KindConfiguration, md.Child("labels"))...)
	errs = append(errs, r.Spec.validate(d, field.NewPath("spec"))...)
	return errs
}

// ValidateUpdate checks an update of a Revision: its metadata is
// validated again and its spec must not change at all.
func (r *Revision) ValidateUpdate(old *Revision, d Defaults) field.ErrorList {
	md := field.NewPath("metadata")
	errs := validateObjectMeta(&r.ObjectMeta, md, true, d)
	errs = append(errs, validateOwnerLabel(&r.ObjectMeta, serving.ConfigurationLabelKey, KindConfiguration, md.Child("labels"))...)
	if !apiequality.Semantic.DeepEqual(old.Spec, r.Spec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"),
			withDetails("Immutable fields changed (-old +new)", changedRevisionFields(&old.Spec, &r.Spec))))
	}
	return errs
}

// changedRevisionFields names the top-level RevisionSpec fields that
// differ, standing in for Knative's diff in the error details.
func changedRevisionFields(old, cur *RevisionSpec) []string {
	var out []string
	if !apiequality.Semantic.DeepEqual(old.PodSpec, cur.PodSpec) {
		out = append(out, "changed: pod spec (containers, volumes, ...)")
	}
	for _, f := range []struct {
		name     string
		old, cur *int64
	}{
		{"containerConcurrency", old.ContainerConcurrency, cur.ContainerConcurrency},
		{"timeoutSeconds", old.TimeoutSeconds, cur.TimeoutSeconds},
		{"responseStartTimeoutSeconds", old.ResponseStartTimeoutSeconds, cur.ResponseStartTimeoutSeconds},
		{"idleTimeoutSeconds", old.IdleTimeoutSeconds, cur.IdleTimeoutSeconds},
	} {
		if !apiequality.Semantic.DeepEqual(f.old, f.cur) {
			out = append(out, fmt.Sprintf("changed: %s", f.name))
		}
	}
	return out
}

// validateObjectMeta is Knative's serving.ValidateObjectMetadata plus the
// Kubernetes API server's label and annotation checks (key syntax, 256 KiB
// total annotation size), which Knative gets from the API server.
func validateObjectMeta(meta *metav1.ObjectMeta, p *field.Path, allowAutoscaling bool, d Defaults) field.ErrorList {
	var errs field.ErrorList
	switch {
	case meta.GenerateName != "" && len(nameIsDNS1035Label(meta.GenerateName, true)) > 0:
		errs = append(errs, errGeneric(p.Child("generateName"), meta.GenerateName,
			fmt.Sprint("not a DNS 1035 label prefix: ", nameIsDNS1035Label(meta.GenerateName, true)), got(meta.GenerateName)))
	case meta.Name != "" && len(nameIsDNS1035Label(meta.Name, false)) > 0:
		errs = append(errs, errGeneric(p.Child("name"), meta.Name,
			fmt.Sprint("not a DNS 1035 label: ", nameIsDNS1035Label(meta.Name, false)), got(meta.Name)))
	case meta.Name == "" && meta.GenerateName == "":
		errs = append(errs, field.Required(p.Child("name"), "name or generateName is required"))
	}
	ap := p.Child("annotations")
	errs = append(errs, fromAPIMachinery(apivalidation.ValidateAnnotations(meta.Annotations, ap))...)
	errs = append(errs, fromAPIMachinery(metav1validation.ValidateLabels(meta.Labels, p.Child("labels")))...)
	if allowAutoscaling {
		errs = append(errs, validateAutoscalingAnnotations(meta.Annotations, ap, d)...)
	} else {
		errs = append(errs, validateNoAutoscalingAnnotations(meta.Annotations, ap)...)
	}
	return errs
}

// nameIsDNS1035Label is apimachinery's NameIsDNS1035Label: with prefix,
// a trailing "-" is allowed (a generateName).
func nameIsDNS1035Label(name string, prefix bool) []string {
	return apivalidation.NameIsDNS1035Label(name, prefix)
}

func validateNoAutoscalingAnnotations(annotations map[string]string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedKeys(annotations) {
		if strings.HasPrefix(k, autoscaler.GroupName) {
			errs = append(errs, errInvalidKeyName(p, k,
				`autoscaling annotations must be put under "spec.template.metadata.annotations" to work`))
		}
	}
	return errs
}

func validateVisibilityLabel(labels map[string]string, p *field.Path) field.ErrorList {
	if v, ok := labels[serving.VisibilityLabelKey]; ok && v != serving.VisibilityClusterLocal {
		return field.ErrorList{errInvalidValue(p.Child(serving.VisibilityLabelKey), v)}
	}
	return nil
}

// validateOwnerLabel checks that an object carrying label key = X has an
// owner reference of kind ownerKind named X.
func validateOwnerLabel(meta *metav1.ObjectMeta, key, ownerKind string, p *field.Path) field.ErrorList {
	v, ok := meta.Labels[key]
	if !ok {
		return nil
	}
	for _, ref := range meta.OwnerReferences {
		if ref.Kind == ownerKind && ref.Name == v {
			return nil
		}
	}
	return field.ErrorList{errMissingField(p.Child(key))}
}

func validateRolloutDuration(annotations map[string]string, p *field.Path) field.ErrorList {
	for _, k := range []string{serving.RolloutDurationKey, serving.RolloutDurationKeyLegacy} {
		v, ok := annotations[k]
		if !ok || v == "" {
			continue
		}
		return validateSecondsDuration(v, p.Child(k), "rollout-duration")
	}
	return nil
}

// validateSecondsDuration checks a non-negative Go duration with whole
// seconds, with Knative's messages for rollout-duration and
// progress-deadline.
func validateSecondsDuration(v string, p *field.Path, name string) field.ErrorList {
	dur, err := parseDuration(v)
	switch {
	case err != nil:
		return field.ErrorList{errInvalidValue(p, v)}
	case dur.Truncate(secondDuration) != dur:
		return field.ErrorList{errGeneric(p, v, fmt.Sprintf("%s=%s is not at second precision", name, shorten(v)))}
	case dur < 0:
		return field.ErrorList{errGeneric(p, v, fmt.Sprintf("%s=%s must be positive", name, shorten(v)))}
	}
	return nil
}

func validateCreatorAndModifier(oldSpec, newSpec any, oldAnn, newAnn map[string]string) field.ErrorList {
	if oldAnn == nil || newAnn == nil {
		return nil
	}
	var errs field.ErrorList
	p := field.NewPath("metadata", "annotations")
	if oldAnn[serving.CreatorAnnotation] != newAnn[serving.CreatorAnnotation] {
		errs = append(errs, errGeneric(p.Child(serving.CreatorAnnotation), newAnn[serving.CreatorAnnotation], "annotation value is immutable"))
	}
	if apiequality.Semantic.DeepEqual(oldSpec, newSpec) && oldAnn[serving.UpdaterAnnotation] != newAnn[serving.UpdaterAnnotation] {
		errs = append(errs, errInvalidValue(p.Child(serving.UpdaterAnnotation), newAnn[serving.UpdaterAnnotation]))
	}
	return errs
}

// verifyNameChange rejects a template change that keeps a non-empty
// bring-your-own revision name.
func verifyNameChange(cur, old *RevisionTemplateSpec, p *field.Path) field.ErrorList {
	if cur.Name == "" || cur.Name != old.Name {
		return nil
	}
	if apiequality.Semantic.DeepEqual(cur, old) {
		return nil
	}
	var changed []string
	if !apiequality.Semantic.DeepEqual(cur.ObjectMeta, old.ObjectMeta) {
		changed = append(changed, "changed: metadata")
	}
	if !apiequality.Semantic.DeepEqual(cur.Spec, old.Spec) {
		changed = append(changed, "changed: spec")
	}
	return field.ErrorList{errGeneric(p.Child("metadata", "name"), cur.Name,
		"Saw the following changes without a name change (-old +new)", changed...)}
}

// validate checks a revision template (paths under p = spec.template):
// the RevisionSpec, the autoscaling and networking annotations, the BYO
// name, the queue-sidecar and progress-deadline annotations.
func (t *RevisionTemplateSpec) validate(d Defaults, parent *metav1.ObjectMeta, p *field.Path) field.ErrorList {
	errs := t.Spec.validate(d, p.Child("spec"))
	ap := p.Child("metadata", "annotations")
	errs = append(errs, validateAutoscalingAnnotations(t.Annotations, ap, d)...)
	errs = append(errs, validateNetworkingAnnotations(t.Annotations, ap)...)
	errs = append(errs, validateRevisionName(t.Name, t.GenerateName, parent, p.Child("metadata"))...)
	errs = append(errs, validateQueueSidecarAnnotations(t.Annotations, ap)...)
	if v, ok := t.Annotations[serving.ProgressDeadlineAnnotationKey]; ok {
		errs = append(errs, validateSecondsDuration(v, ap.Child(serving.ProgressDeadlineAnnotationKey), "progress-deadline")...)
	}
	// The template's labels and annotations become the Revision's: check
	// them as the API server will check the Revision's.
	errs = append(errs, fromAPIMachinery(apivalidation.ValidateAnnotations(t.Annotations, ap))...)
	errs = append(errs, fromAPIMachinery(metav1validation.ValidateLabels(t.Labels, p.Child("metadata", "labels")))...)
	return errs
}

// allowedNetworkingAnnotation reports the networking.knative.dev
// annotations allowed on a revision template.
func allowedNetworkingAnnotation(k string) bool {
	switch strings.TrimPrefix(k, serving.NetworkingGroupName+"/") {
	case "ingress.class", "ingress-class", "certificate.class", "certificate-class",
		"disableAutoTLS", "disable-auto-tls", "disable-external-domain-tls", "httpOption", "http-protocol":
		return strings.HasPrefix(k, serving.NetworkingGroupName+"/")
	}
	return false
}

func validateNetworkingAnnotations(annotations map[string]string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedKeys(annotations) {
		if strings.HasPrefix(k, serving.NetworkingGroupName) && !allowedNetworkingAnnotation(k) {
			errs = append(errs, errInvalidKeyName(p, k))
		}
	}
	return errs
}

func validateRevisionName(name, generateName string, parent *metav1.ObjectMeta, p *field.Path) field.ErrorList {
	if generateName != "" {
		if msgs := nameIsDNS1035Label(generateName, true); len(msgs) > 0 {
			return field.ErrorList{errGeneric(p.Child("generateName"), generateName, fmt.Sprint("invalid value: not a DNS 1035 label prefix: ", msgs), got(generateName))}
		}
	}
	if name == "" {
		return nil
	}
	if msgs := nameIsDNS1035Label(name, false); len(msgs) > 0 {
		return field.ErrorList{errGeneric(p.Child("name"), name, fmt.Sprint("invalid value: not a DNS 1035 label: ", msgs), got(name))}
	}
	if parent.Name == "" && parent.GenerateName != "" {
		// A BYO name needs a known parent name to be prefixed with.
		return field.ErrorList{errDisallowedFields(p.Child("name"))}
	}
	prefix := parent.Name + "-"
	if !strings.HasPrefix(name, prefix) {
		return field.ErrorList{errInvalidValue(p.Child("name"), fmt.Sprintf("%q must have prefix %q", name, prefix))}
	}
	return nil
}

// ValidateUpdate validates cur as an update of old, dispatching to the
// kind's ValidateUpdate method. Objects of different kinds give an error at
// "kind".
func ValidateUpdate(old, cur Object, d Defaults) field.ErrorList {
	switch c := cur.(type) {
	case *Service:
		if o, ok := old.(*Service); ok {
			return c.ValidateUpdate(o, d)
		}
	case *Configuration:
		if o, ok := old.(*Configuration); ok {
			return c.ValidateUpdate(o, d)
		}
	case *Route:
		if o, ok := old.(*Route); ok {
			return c.ValidateUpdate(o, d)
		}
	case *Revision:
		if o, ok := old.(*Revision); ok {
			return c.ValidateUpdate(o, d)
		}
	}
	return field.ErrorList{errGeneric(field.NewPath("kind"), fmt.Sprintf("%T", cur),
		fmt.Sprintf("cannot update a %T with a %T", old, cur))}
}
