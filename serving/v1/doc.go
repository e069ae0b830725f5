// Package v1 is the serving.knative.dev/v1 API: Service, Configuration,
// Revision and Route, with Knative's JSON field names, defaults,
// validation and status conditions.
//
// A manifest written for Knative means the same thing here. Decode reads
// YAML documents into typed objects; SetDefaults fills in what Knative's
// defaulting webhook fills in; Validate returns a field.ErrorList whose
// paths are the ones Knative reports (for example
// spec.template.spec.containerConcurrency or spec.traffic[0].tag).
// The status types carry Knative's condition duck shape and the Mark*
// helpers that controllers use to set and propagate conditions.
//
// The package depends on apimachinery and k8s.io/api only; it never
// imports client-go.
//
// +k8s:deepcopy-gen=package
// +kubebuilder:object:generate=true
// +groupName=serving.knative.dev
package v1

//go:generate go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0 object paths=.
