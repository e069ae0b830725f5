package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Service manages a Configuration and a Route of the same name: the whole
// lifecycle of one workload.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=services,singular=service,shortName=kservice;ksvc,categories=all;knative;serving
// +kubebuilder:printcolumn:name=URL,type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name=LatestCreated,type=string,JSONPath=`.status.latestCreatedRevisionName`
// +kubebuilder:printcolumn:name=LatestReady,type=string,JSONPath=`.status.latestReadyRevisionName`
// +kubebuilder:printcolumn:name=Ready,type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].status`
// +kubebuilder:printcolumn:name=Reason,type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].reason`
type Service struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the template and traffic.
	// +optional
	Spec ServiceSpec `json:"spec,omitempty"`

	// Status is what the controller observed.
	// +optional
	Status ServiceStatus `json:"status,omitempty"`
}

// ServiceSpec is a ConfigurationSpec and a RouteSpec side by side.
type ServiceSpec struct {
	// ConfigurationSpec holds the revision template.
	ConfigurationSpec `json:",inline"`

	// RouteSpec holds the traffic split. An empty split is defaulted to
	// 100% to the latest ready Revision.
	RouteSpec `json:",inline"`
}

// ServiceStatus is the observed state of a Service, with the fields copied
// from its Configuration and Route.
type ServiceStatus struct {
	Status `json:",inline"`

	ConfigurationStatusFields `json:",inline"`

	RouteStatusFields `json:",inline"`
}

// ServiceList is a list of Services.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type ServiceList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the Services.
	Items []Service `json:"items"`
}
