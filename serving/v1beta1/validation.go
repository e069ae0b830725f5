package v1beta1

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	v1 "github.com/servekit/servekit/serving/v1"
)

// ClusterLocalDomain is the cluster's DNS domain (Knative's default,
// network.GetClusterDomainName): a DomainMapping may not name a host under it.
const ClusterLocalDomain = "cluster.local"

// maxValueInMessage bounds how much of a bad value a message quotes (as
// serving/v1 does), so that a huge name gives a readable error.
const maxValueInMessage = 64

func shorten(v string) string {
	if len(v) <= maxValueInMessage {
		return v
	}
	return fmt.Sprintf("%s...(%d bytes)", v[:maxValueInMessage], len(v))
}

// Validate checks a DomainMapping as Knative's validating webhook does, after
// SetDefaults, with Knative's paths and messages:
//   - metadata.generateName must not be set;
//   - metadata.name must be a fully qualified domain name (lower-case RFC 1123
//     labels of at most 63 characters, at least two of them) and not under
//     ClusterLocalDomain;
//   - spec.ref.name, spec.ref.apiVersion and spec.ref.kind are required, and
//     spec.ref.namespace, when set, must be the DomainMapping's namespace.
//
// What spec.ref names is not checked here: as in Knative, a ref to an object
// that does not exist (or of an unsupported kind) is reported in status, by the
// ReferenceResolved condition.
func (dm *DomainMapping) Validate(v1.Defaults) field.ErrorList {
	var errs field.ErrorList
	md := field.NewPath("metadata")
	if dm.GenerateName != "" {
		errs = append(errs, field.Forbidden(md.Child("generateName"), "must not set the field(s)"))
	}
	name := shorten(dm.Name)
	if ferrs := validation.IsFullyQualifiedDomainName(field.NewPath("name"), dm.Name); len(ferrs) > 0 {
		errs = append(errs, field.Invalid(md.Child("name"), name,
			fmt.Sprintf("invalid name %q: %s", name, ferrs.ToAggregate())))
	}
	if strings.HasSuffix(dm.Name, "."+ClusterLocalDomain) {
		errs = append(errs, field.Invalid(md.Child("name"), name,
			fmt.Sprintf("invalid name %q: must not be a subdomain of cluster local domain %q", name, ClusterLocalDomain)))
	}
	ref := field.NewPath("spec", "ref")
	r := dm.Spec.Ref
	if r.Name == "" {
		errs = append(errs, field.Required(ref.Child("name"), "missing field(s)"))
	}
	if r.APIVersion == "" {
		errs = append(errs, field.Required(ref.Child("apiVersion"), "missing field(s)"))
	}
	if r.Kind == "" {
		errs = append(errs, field.Required(ref.Child("kind"), "missing field(s)"))
	}
	if r.Namespace != "" && dm.Namespace != "" && r.Namespace != dm.Namespace {
		errs = append(errs, field.Invalid(ref.Child("namespace"), shorten(r.Namespace),
			fmt.Sprintf("mismatched namespaces; parent namespace: %q does not match ref: %q", dm.Namespace, shorten(r.Namespace))))
	}
	return errs
}

// ValidateUpdate is Validate: a DomainMapping's spec may change freely (its
// name, the host, cannot: it is the object's identity).
func (dm *DomainMapping) ValidateUpdate(_ *DomainMapping, d v1.Defaults) field.ErrorList {
	return dm.Validate(d)
}
