package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/servekit/servekit/serving"
	v1 "github.com/servekit/servekit/serving/v1"
)

// SchemeGroupVersion is serving.knative.dev/v1beta1.
var SchemeGroupVersion = schema.GroupVersion{Group: serving.GroupName, Version: "v1beta1"}

// KindDomainMapping is the kind of DomainMapping.
const KindDomainMapping = "DomainMapping"

var (
	// SchemeBuilder adds the serving.knative.dev/v1beta1 kinds to a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds DomainMapping and DomainMappingList to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion, &DomainMapping{}, &DomainMappingList{})
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}

// NewObject returns a new, empty object of the serving.knative.dev/v1beta1 kind
// tm names, or nil when tm names none of this package's kinds. It is what
// v1.DecodeOptions.Extra takes, so that v1.Decode reads DomainMappings too.
func NewObject(tm metav1.TypeMeta) v1.Object {
	if tm.APIVersion == SchemeGroupVersion.String() && tm.Kind == KindDomainMapping {
		return &DomainMapping{}
	}
	return nil
}
