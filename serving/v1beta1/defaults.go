package v1beta1

import (
	v1 "github.com/servekit/servekit/serving/v1"
)

// SetDefaults fills in what Knative's defaulting webhook fills in when a
// DomainMapping is created: an empty spec.ref.namespace becomes the
// DomainMapping's namespace. Like serving/v1's SetDefaults it writes no
// creator/lastModifier annotations (it has no requesting user).
func (dm *DomainMapping) SetDefaults(v1.Defaults) {
	if dm.Spec.Ref.Namespace == "" {
		dm.Spec.Ref.Namespace = dm.Namespace
	}
}
