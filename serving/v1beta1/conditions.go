package v1beta1

import (
	"time"

	v1 "github.com/servekit/servekit/serving/v1"
)

// The conditions of a DomainMapping; Ready is True when all four are.
const (
	// DomainMappingConditionReady is Ready: the host routes to the referent.
	DomainMappingConditionReady = v1.ConditionReady
	// DomainMappingConditionDomainClaimed is True when this DomainMapping holds
	// the claim on its host (the first one to claim it, across namespaces).
	DomainMappingConditionDomainClaimed v1.ConditionType = "DomainClaimed"
	// DomainMappingConditionReferenceResolved is True when spec.ref names an
	// existing Service or Route with an address.
	DomainMappingConditionReferenceResolved v1.ConditionType = "ReferenceResolved"
	// DomainMappingConditionCertificateProvisioned reports the host's TLS
	// certificate (True, reason TLSNotEnabled, when TLS is not in use).
	DomainMappingConditionCertificateProvisioned v1.ConditionType = "CertificateProvisioned"
	// DomainMappingConditionIngressReady is True when the ingress routes the
	// host.
	DomainMappingConditionIngressReady v1.ConditionType = "IngressReady"
)

// Reasons and messages of the DomainMapping conditions, Knative's.
const (
	// ReasonDomainAlreadyClaimed is DomainClaimed's reason when another
	// namespace holds the host.
	ReasonDomainAlreadyClaimed = "DomainAlreadyClaimed"
	// MessageDomainAlreadyClaimed is its message.
	MessageDomainAlreadyClaimed = "The domain name is already in use by another DomainMapping"
	// ReasonResolveFailed is ReferenceResolved's reason when spec.ref cannot be
	// resolved.
	ReasonResolveFailed = "ResolveFailed"
	// ReasonTLSNotEnabled is CertificateProvisioned's reason without TLS.
	ReasonTLSNotEnabled = "TLSNotEnabled"
	// MessageAutoTLSNotEnabled is its message.
	MessageAutoTLSNotEnabled = "autoTLS is not enabled"
	// ReasonIngressNotConfigured is IngressReady's reason until the host is
	// routed.
	ReasonIngressNotConfigured = "IngressNotConfigured"
)

// servekit's reasons of CertificateProvisioned False (Knative hands spec.tls to
// its ingress and does not look at the Secret).
const (
	// ReasonHTTPSNotEnabled: spec.tls is set, but the platform serves no HTTPS.
	ReasonHTTPSNotEnabled = "HTTPSNotEnabled"
	// ReasonCertificateMissing: the HTTPS ingress has no certificate for the
	// host (the local runtime, where a certificate is a file).
	ReasonCertificateMissing = "CertificateMissing"
	// ReasonSecretNotFound: the Secret spec.tls.secretName names does not exist.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonSecretForbidden: the controller may not read Secrets in the
	// mapping's namespace (RBAC).
	ReasonSecretForbidden = "SecretForbidden"
	// ReasonCertificateInvalid: the Secret is not a TLS certificate and key
	// valid for the host.
	ReasonCertificateInvalid = "CertificateInvalid"
)

func domainMappingCondSet() v1.ConditionSet {
	return v1.NewLivingConditionSet(DomainMappingConditionDomainClaimed, DomainMappingConditionReferenceResolved,
		DomainMappingConditionIngressReady, DomainMappingConditionCertificateProvisioned)
}

// IsReady reports whether the status describes the current generation and
// Ready is True.
func (dm *DomainMapping) IsReady() bool {
	return dm.Status.ObservedGeneration == dm.Generation && dm.Status.GetCondition(DomainMappingConditionReady).IsTrue()
}

// ConditionManager returns the manager of the DomainMapping's conditions.
func (dms *DomainMappingStatus) ConditionManager() v1.ConditionManager {
	return domainMappingCondSet().Manage(&dms.Status)
}

// InitializeConditions adds missing Ready, DomainClaimed, ReferenceResolved,
// IngressReady and CertificateProvisioned conditions as Unknown.
func (dms *DomainMappingStatus) InitializeConditions(now time.Time) {
	dms.ConditionManager().InitializeConditions(now)
}

// MarkDomainClaimed sets DomainClaimed True.
func (dms *DomainMappingStatus) MarkDomainClaimed(now time.Time) {
	dms.ConditionManager().MarkTrue(now, DomainMappingConditionDomainClaimed)
}

// MarkDomainClaimNotOwned sets DomainClaimed False, reason
// DomainAlreadyClaimed: another namespace holds the host.
func (dms *DomainMappingStatus) MarkDomainClaimNotOwned(now time.Time) {
	dms.ConditionManager().MarkFalse(now, DomainMappingConditionDomainClaimed, ReasonDomainAlreadyClaimed, MessageDomainAlreadyClaimed)
}

// MarkReferenceResolved sets ReferenceResolved True.
func (dms *DomainMappingStatus) MarkReferenceResolved(now time.Time) {
	dms.ConditionManager().MarkTrue(now, DomainMappingConditionReferenceResolved)
}

// MarkReferenceNotResolved sets ReferenceResolved False, reason ResolveFailed,
// with message (for example `failed to get object default/hello:
// services.serving.knative.dev "hello" not found`).
func (dms *DomainMappingStatus) MarkReferenceNotResolved(now time.Time, message string) {
	dms.ConditionManager().MarkFalse(now, DomainMappingConditionReferenceResolved, ReasonResolveFailed, message)
}

// MarkReferenceUnknown sets ReferenceResolved Unknown (not tried: the domain
// is not claimed), as Knative leaves it.
func (dms *DomainMappingStatus) MarkReferenceUnknown(now time.Time, reason, message string) {
	dms.ConditionManager().MarkUnknown(now, DomainMappingConditionReferenceResolved, reason, message)
}

// MarkTLSNotEnabled sets CertificateProvisioned True, reason TLSNotEnabled,
// with message (MessageAutoTLSNotEnabled).
func (dms *DomainMappingStatus) MarkTLSNotEnabled(now time.Time, message string) {
	dms.ConditionManager().MarkTrueWithReason(now, DomainMappingConditionCertificateProvisioned, ReasonTLSNotEnabled, message)
}

// MarkCertificateReady sets CertificateProvisioned True.
func (dms *DomainMappingStatus) MarkCertificateReady(now time.Time) {
	dms.ConditionManager().MarkTrue(now, DomainMappingConditionCertificateProvisioned)
}

// MarkCertificateNotReady sets CertificateProvisioned Unknown, reason
// CertificateNotReady, with message.
func (dms *DomainMappingStatus) MarkCertificateNotReady(now time.Time, message string) {
	dms.ConditionManager().MarkUnknown(now, DomainMappingConditionCertificateProvisioned, "CertificateNotReady", message)
}

// MarkCertificateFailed sets CertificateProvisioned False with reason and
// message: the host's certificate is not there (e.g. spec.tls names a Secret
// that does not exist).
func (dms *DomainMappingStatus) MarkCertificateFailed(now time.Time, reason, message string) {
	dms.ConditionManager().MarkFalse(now, DomainMappingConditionCertificateProvisioned, reason, message)
}

// MarkIngressNotConfigured sets IngressReady Unknown, reason
// IngressNotConfigured: the host is not routed yet.
func (dms *DomainMappingStatus) MarkIngressNotConfigured(now time.Time) {
	dms.ConditionManager().MarkUnknown(now, DomainMappingConditionIngressReady, ReasonIngressNotConfigured,
		"Ingress has not yet been reconciled.")
}

// MarkIngressReady sets IngressReady True.
func (dms *DomainMappingStatus) MarkIngressReady(now time.Time) {
	dms.ConditionManager().MarkTrue(now, DomainMappingConditionIngressReady)
}

// MarkIngressFailed sets IngressReady False with reason and message.
func (dms *DomainMappingStatus) MarkIngressFailed(now time.Time, reason, message string) {
	dms.ConditionManager().MarkFalse(now, DomainMappingConditionIngressReady, reason, message)
}
