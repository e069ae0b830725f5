package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Configuration holds the desired state of the latest Revision: each change
// of its spec stamps a new Revision.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=configurations,singular=configuration,shortName=config;cfg;kcfg,categories=all;knative;serving
// +kubebuilder:printcolumn:name=LatestCreated,type=string,JSONPath=`.status.latestCreatedRevisionName`
// +kubebuilder:printcolumn:name=LatestReady,type=string,JSONPath=`.status.latestReadyRevisionName`
// +kubebuilder:printcolumn:name=Ready,type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].status`
// +kubebuilder:printcolumn:name=Reason,type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].reason`
type Configuration struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the revision template.
	// +optional
	Spec ConfigurationSpec `json:"spec,omitempty"`

	// Status is what the controller observed.
	// +optional
	Status ConfigurationStatus `json:"status,omitempty"`
}

// ConfigurationSpec is the template Revisions are stamped from.
type ConfigurationSpec struct {
	// Template is the Revision to stamp for the current generation.
	// +optional
	Template RevisionTemplateSpec `json:"template"`
}

// ConfigurationStatusFields are the Configuration status fields that a
// Service copies into its own status.
type ConfigurationStatusFields struct {
	// LatestReadyRevisionName is the newest Revision of this Configuration
	// that became Ready; empty until one does.
	// +optional
	LatestReadyRevisionName string `json:"latestReadyRevisionName,omitempty"`

	// LatestCreatedRevisionName is the Revision stamped for the current
	// generation; empty until it exists.
	// +optional
	LatestCreatedRevisionName string `json:"latestCreatedRevisionName,omitempty"`
}

// ConfigurationStatus is the observed state of a Configuration.
type ConfigurationStatus struct {
	Status `json:",inline"`

	ConfigurationStatusFields `json:",inline"`
}

// ConfigurationList is a list of Configurations.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type ConfigurationList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the Configurations.
	Items []Configuration `json:"items"`
}
