package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Revision is an immutable snapshot of code and configuration, stamped from
// a Configuration's template once per Configuration generation.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=revisions,singular=revision,shortName=rev,categories=all;knative;serving
// +kubebuilder:printcolumn:name=Config Name,type=string,JSONPath=`.metadata.labels['serving\.knative\.dev/configuration']`
// +kubebuilder:printcolumn:name=Generation,type=string,JSONPath=`.metadata.labels['serving\.knative\.dev/configurationGeneration']`
// +kubebuilder:printcolumn:name=Ready,type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].status`
// +kubebuilder:printcolumn:name=Reason,type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].reason`
// +kubebuilder:printcolumn:name=Actual Replicas,type=integer,JSONPath=`.status.actualReplicas`
// +kubebuilder:printcolumn:name=Desired Replicas,type=integer,JSONPath=`.status.desiredReplicas`
type Revision struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the pod and request settings. It never changes after creation.
	// +optional
	Spec RevisionSpec `json:"spec,omitempty"`

	// Status is what the controller observed.
	// +optional
	Status RevisionStatus `json:"status,omitempty"`
}

// RevisionTemplateSpec is the template a Configuration stamps Revisions from.
type RevisionTemplateSpec struct {
	// ObjectMeta of the Revisions: labels, annotations, and an optional
	// bring-your-own name that must start with "<parent>-".
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec of the Revisions.
	// +optional
	Spec RevisionSpec `json:"spec,omitempty"`
}

// RevisionSpec is a Kubernetes PodSpec plus Knative's request settings.
// Every PodSpec field a user writes is kept.
type RevisionSpec struct {
	corev1.PodSpec `json:",inline"`

	// ContainerConcurrency is the maximum number of requests in flight per
	// container. 0 means unlimited; nil means the config-defaults value
	// (filled in by SetDefaults).
	// +optional
	ContainerConcurrency *int64 `json:"containerConcurrency,omitempty"`

	// TimeoutSeconds is the maximum duration of a request, in seconds. Nil
	// or 0 is replaced by config-defaults revision-timeout-seconds (300).
	// +optional
	TimeoutSeconds *int64 `json:"timeoutSeconds,omitempty"`

	// ResponseStartTimeoutSeconds is the maximum time to wait for the first
	// byte of a response. Nil means no separate limit (the request timeout
	// applies).
	// +optional
	ResponseStartTimeoutSeconds *int64 `json:"responseStartTimeoutSeconds,omitempty"`

	// IdleTimeoutSeconds is the maximum time without any byte from the app
	// before the request is cut. Nil means no idle limit.
	// +optional
	IdleTimeoutSeconds *int64 `json:"idleTimeoutSeconds,omitempty"`
}

// ContainerStatus records the image digest resolved for a container at the
// time the Revision was created.
type ContainerStatus struct {
	// Name of the container.
	Name string `json:"name,omitempty"`
	// ImageDigest is the image by digest (repo@sha256:...). Empty means not
	// resolved yet.
	ImageDigest string `json:"imageDigest,omitempty"`
}

// RevisionStatus is the observed state of a Revision.
type RevisionStatus struct {
	Status `json:",inline"`

	// LogURL links to the Revision's logs; empty when no template is
	// configured.
	// +optional
	LogURL string `json:"logUrl,omitempty"`

	// ContainerStatuses holds one entry per container, in spec order, once
	// image digests are resolved. Nil means not resolved yet.
	// +optional
	ContainerStatuses []ContainerStatus `json:"containerStatuses,omitempty"`

	// InitContainerStatuses is ContainerStatuses for init containers.
	// +optional
	InitContainerStatuses []ContainerStatus `json:"initContainerStatuses,omitempty"`

	// ActualReplicas is the number of ready pods; nil means unknown.
	// +optional
	ActualReplicas *int32 `json:"actualReplicas,omitempty"`

	// DesiredReplicas is the number of pods the autoscaler wants; nil means
	// unknown.
	// +optional
	DesiredReplicas *int32 `json:"desiredReplicas,omitempty"`
}

// RevisionList is a list of Revisions.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type RevisionList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the Revisions.
	Items []Revision `json:"items"`
}
