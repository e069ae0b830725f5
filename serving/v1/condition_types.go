package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConditionType is the type of a status condition, for example Ready.
type ConditionType string

// ConditionSeverity is how much a False condition matters. The empty
// severity is an error: it makes the object not Ready.
type ConditionSeverity string

// Condition severities.
const (
	// ConditionSeverityError (the empty string) is the default: a False
	// condition with this severity makes Ready False.
	ConditionSeverityError ConditionSeverity = ""
	// ConditionSeverityWarning marks a condition that is reported but does
	// not affect Ready.
	ConditionSeverityWarning ConditionSeverity = "Warning"
	// ConditionSeverityInfo marks an informational condition.
	ConditionSeverityInfo ConditionSeverity = "Info"
)

// Condition is one observation of an object's state, shaped as Knative's
// apis.Condition.
type Condition struct {
	// Type of the condition, for example Ready.
	Type ConditionType `json:"type"`
	// Status is True, False or Unknown.
	Status corev1.ConditionStatus `json:"status"`
	// Severity of a False condition; empty means error.
	// +optional
	Severity ConditionSeverity `json:"severity,omitempty"`
	// LastTransitionTime is when the condition last changed status, reason
	// or message. Zero means never recorded.
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
	// Reason is a one-word CamelCase reason for the last transition; empty
	// when the condition is True.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message is a human-readable explanation; may be empty.
	// +optional
	Message string `json:"message,omitempty"`
}

// IsTrue reports whether c is non-nil and True.
func (c *Condition) IsTrue() bool {
	return c != nil && c.Status == corev1.ConditionTrue
}

// IsFalse reports whether c is non-nil and False.
func (c *Condition) IsFalse() bool {
	return c != nil && c.Status == corev1.ConditionFalse
}

// IsUnknown reports whether c is nil or Unknown.
func (c *Condition) IsUnknown() bool {
	return c == nil || c.Status == corev1.ConditionUnknown
}

// Conditions is a list of conditions, kept sorted by Type.
type Conditions []Condition

// Status is the status duck every serving kind embeds: the observed
// generation, the conditions and free-form annotations.
type Status struct {
	// ObservedGeneration is the metadata.generation the controller last
	// reconciled; zero means never.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions are the latest observations, sorted by type.
	// +optional
	Conditions Conditions `json:"conditions,omitempty"`
	// Annotations is additional status information; nil means none.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Addressable is the cluster-internal address of a Route or Service
// (Knative's duckv1.Addressable).
type Addressable struct {
	// Name of the address; empty for the default address.
	// +optional
	Name *string `json:"name,omitempty"`
	// URL is the address, for example
	// http://hello.default.svc.cluster.local. Empty means not yet known.
	// +optional
	URL string `json:"url,omitempty"`
	// CACerts are the PEM CA certificates for an https URL; nil means none.
	// +optional
	CACerts *string `json:"CACerts,omitempty"`
	// Audience is the OIDC audience of the address; nil means none.
	// +optional
	Audience *string `json:"audience,omitempty"`
}
