package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Route splits traffic between Revisions, directly (by name) or through a
// Configuration's latest ready Revision, and gives each tagged target its
// own URL.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=routes,singular=route,shortName=rt,categories=all;knative;serving
// +kubebuilder:printcolumn:name=URL,type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name=Ready,type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].status`
// +kubebuilder:printcolumn:name=Reason,type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].reason`
type Route struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired traffic split.
	// +optional
	Spec RouteSpec `json:"spec,omitempty"`

	// Status is what the controller observed.
	// +optional
	Status RouteStatus `json:"status,omitempty"`
}

// TrafficTarget is one entry of a traffic split.
type TrafficTarget struct {
	// Tag, when set, gives this target its own URL
	// (<tag>-<route>.<namespace>.<domain>). Empty means no own URL.
	// +optional
	Tag string `json:"tag,omitempty"`

	// RevisionName pins the target to one Revision. Exactly one of
	// RevisionName and ConfigurationName must be set in a Route spec (in a
	// Service spec ConfigurationName is implied and must be empty).
	// +optional
	RevisionName string `json:"revisionName,omitempty"`

	// ConfigurationName makes the target follow the Configuration's latest
	// ready Revision. It never appears in status.
	// +optional
	ConfigurationName string `json:"configurationName,omitempty"`

	// LatestRevision true follows the latest ready Revision; false pins
	// RevisionName. It must agree with whether RevisionName is set. Nil is
	// defaulted to RevisionName == "".
	// +optional
	LatestRevision *bool `json:"latestRevision,omitempty"`

	// Percent of traffic, 0..100; the percents of all targets must sum to
	// 100. Nil counts as 0.
	// +optional
	Percent *int64 `json:"percent,omitempty"`

	// URL of a tagged target; status only, empty in specs.
	// +optional
	URL string `json:"url,omitempty"`
}

// RouteSpec is the desired traffic split.
type RouteSpec struct {
	// Traffic is the list of targets; their percents must sum to 100.
	// +optional
	Traffic []TrafficTarget `json:"traffic,omitempty"`
}

// RouteStatusFields are the Route status fields that a Service copies into
// its own status.
type RouteStatusFields struct {
	// URL is the Route's public URL; empty until known.
	// +optional
	URL string `json:"url,omitempty"`

	// Address is the cluster-internal address; nil until known.
	// +optional
	Address *Addressable `json:"address,omitempty"`

	// Traffic is the resolved split: every entry has RevisionName set.
	// +optional
	Traffic []TrafficTarget `json:"traffic,omitempty"`
}

// RouteStatus is the observed state of a Route.
type RouteStatus struct {
	Status `json:",inline"`

	RouteStatusFields `json:",inline"`
}

// RouteList is a list of Routes.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type RouteList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the Routes.
	Items []Route `json:"items"`
}
