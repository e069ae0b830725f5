package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/servekit/servekit/serving"
)

// SchemeGroupVersion is serving.knative.dev/v1.
var SchemeGroupVersion = schema.GroupVersion{Group: serving.GroupName, Version: "v1"}

// Kinds of the serving.knative.dev/v1 API.
const (
	// KindService is the kind of Service.
	KindService = "Service"
	// KindConfiguration is the kind of Configuration.
	KindConfiguration = "Configuration"
	// KindRevision is the kind of Revision.
	KindRevision = "Revision"
	// KindRoute is the kind of Route.
	KindRoute = "Route"
)

// Kind returns the group-qualified kind.
func Kind(kind string) schema.GroupKind {
	return SchemeGroupVersion.WithKind(kind).GroupKind()
}

// Resource returns the group-qualified resource.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

var (
	// SchemeBuilder adds the serving.knative.dev/v1 kinds to a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds Service, Configuration, Revision and Route (and their
	// lists) to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion,
		&Service{}, &ServiceList{},
		&Configuration{}, &ConfigurationList{},
		&Revision{}, &RevisionList{},
		&Route{}, &RouteList{},
	)
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}
