package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/servekit/servekit/serving/v1"
)

// DomainMapping maps a custom host name, its metadata.name, to an addressable
// object in its namespace: a Knative Service or Route. Requests whose Host is
// the name get the Route's default traffic (its tags are not mapped).
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=domainmappings,singular=domainmapping,shortName=dm,categories=all;knative;serving
// +kubebuilder:printcolumn:name=URL,type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name=Ready,type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].status`
// +kubebuilder:printcolumn:name=Reason,type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].reason`
type DomainMapping struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired mapping.
	// +optional
	Spec DomainMappingSpec `json:"spec,omitempty"`

	// Status is what the controller observed.
	// +optional
	Status DomainMappingStatus `json:"status,omitempty"`
}

// KReference names the object a DomainMapping maps to (Knative's
// duckv1.KReference).
type KReference struct {
	// Kind of the referent: Service or Route.
	Kind string `json:"kind"`
	// Namespace of the referent; defaulted to the DomainMapping's, and it must
	// be the DomainMapping's. Empty means the DomainMapping's.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Name of the referent.
	Name string `json:"name"`
	// APIVersion of the referent: serving.knative.dev/v1.
	APIVersion string `json:"apiVersion"`
}

// SecretTLS names the Kubernetes Secret with the certificate of the mapped host.
type SecretTLS struct {
	// SecretName is the name of an existing Secret (in the DomainMapping's
	// namespace) holding a TLS certificate and key.
	SecretName string `json:"secretName"`
}

// DomainMappingSpec is the desired mapping.
type DomainMappingSpec struct {
	// Ref is the Service or Route the host maps to.
	Ref KReference `json:"ref"`

	// TLS names the Secret whose certificate serves the host over TLS; nil
	// means none.
	// +optional
	TLS *SecretTLS `json:"tls,omitempty"`
}

// DomainMappingStatus is the observed state of a DomainMapping.
type DomainMappingStatus struct {
	v1.Status `json:",inline"`

	// URL is http://<metadata.name> (https with spec.tls); empty until
	// reconciled.
	// +optional
	URL string `json:"url,omitempty"`

	// Address holds URL too (Knative's duck Addressable); nil until reconciled.
	// +optional
	Address *v1.Addressable `json:"address,omitempty"`
}

// DomainMappingList is a list of DomainMappings.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type DomainMappingList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the DomainMappings.
	Items []DomainMapping `json:"items"`
}
