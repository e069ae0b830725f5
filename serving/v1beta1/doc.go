// Package v1beta1 is the serving.knative.dev/v1beta1 API that servekit reads:
// DomainMapping, which maps a custom host name (its metadata.name) to a Knative
// Service or Route, with Knative's JSON field names, defaults, validation
// (same field paths and messages) and status conditions (DomainClaimed,
// ReferenceResolved, CertificateProvisioned, IngressReady, Ready).
//
// Its objects implement serving/v1's Object, so they go wherever a v1 object
// goes (a controller's Apply, the admission webhook); v1.Decode reads them when
// its DecodeOptions.Extra is NewObject. Like serving/v1 it depends on
// apimachinery only, never client-go.
//
// +k8s:deepcopy-gen=package
// +kubebuilder:object:generate=true
// +groupName=serving.knative.dev
package v1beta1

//go:generate go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0 object paths=.
