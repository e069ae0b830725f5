package v1

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Service condition types. Service Ready = ConfigurationsReady ∧ RoutesReady.
const (
	// ServiceConditionReady is the Service's Ready condition.
	ServiceConditionReady = ConditionReady
	// ServiceConditionConfigurationsReady mirrors the Configuration's Ready.
	ServiceConditionConfigurationsReady ConditionType = "ConfigurationsReady"
	// ServiceConditionRoutesReady mirrors the Route's Ready.
	ServiceConditionRoutesReady ConditionType = "RoutesReady"
)

// Configuration condition types. A Configuration has only Ready.
const (
	// ConfigurationConditionReady is True when the latest created Revision
	// is the latest ready one.
	ConfigurationConditionReady = ConditionReady
)

// Revision condition types. Revision Ready = ResourcesAvailable ∧
// ContainerHealthy; Active is informational (a Revision scaled to zero is
// still Ready).
const (
	// RevisionConditionReady is the Revision's Ready condition.
	RevisionConditionReady = ConditionReady
	// RevisionConditionResourcesAvailable is True once the Revision's
	// deployment and autoscaler are in place.
	RevisionConditionResourcesAvailable ConditionType = "ResourcesAvailable"
	// RevisionConditionContainerHealthy is True while the containers start
	// and pass their probes.
	RevisionConditionContainerHealthy ConditionType = "ContainerHealthy"
	// RevisionConditionActive is True while the Revision has pods (it is not
	// scaled to zero). It does not affect Ready.
	RevisionConditionActive ConditionType = "Active"
)

// Route condition types. Route Ready = AllTrafficAssigned ∧ IngressReady ∧
// CertificateProvisioned.
const (
	// RouteConditionReady is the Route's Ready condition.
	RouteConditionReady = ConditionReady
	// RouteConditionAllTrafficAssigned is True when every traffic target
	// resolved to a ready Revision.
	RouteConditionAllTrafficAssigned ConditionType = "AllTrafficAssigned"
	// RouteConditionIngressReady mirrors the ingress's readiness.
	RouteConditionIngressReady ConditionType = "IngressReady"
	// RouteConditionCertificateProvisioned is True when TLS certificates are
	// ready, or TLS is off.
	RouteConditionCertificateProvisioned ConditionType = "CertificateProvisioned"
)

// Condition reasons used by Knative Serving.
const (
	// ReasonNotOwned: a child object exists but another owner controls it.
	ReasonNotOwned = "NotOwned"
	// ReasonOutOfDate: a child has not yet observed its latest generation.
	ReasonOutOfDate = "OutOfDate"
	// ReasonRevisionNameTaken: the BYO revision name is used by a
	// conflicting Revision.
	ReasonRevisionNameTaken = "RevisionNameTaken"
	// ReasonTrafficNotMigrated: the Route is Ready but its traffic does not
	// point at the latest ready Revision yet.
	ReasonTrafficNotMigrated = "TrafficNotMigrated"
	// ReasonRevisionFailed: the latest created Revision failed, or could not
	// be created.
	ReasonRevisionFailed = "RevisionFailed"
	// ReasonRevisionDeleted: the latest ready Revision was deleted.
	ReasonRevisionDeleted = "RevisionDeleted"
	// ReasonRevisionMissing: a traffic target has no ready Revision.
	ReasonRevisionMissing = "RevisionMissing"
	// ReasonConfigurationMissing: a traffic target names a Configuration
	// that does not exist.
	ReasonConfigurationMissing = "ConfigurationMissing"
	// ReasonRevisionNotOwned: a traffic target names another Service's
	// Revision.
	ReasonRevisionNotOwned = "RevisionNotOwned"
	// ReasonErrorConfig: the domain or tag template gave a bad host name.
	ReasonErrorConfig = "ErrorConfig"
	// ReasonUnknown: an unexpected error while building the traffic.
	ReasonUnknown = "Unknown"
	// ReasonIngressNotConfigured: the ingress was not yet programmed for
	// this generation.
	ReasonIngressNotConfigured = "IngressNotConfigured"
	// ReasonRolloutInProgress: a gradual rollout is moving traffic.
	ReasonRolloutInProgress = "RolloutInProgress"
	// ReasonTLSNotEnabled: certificates are not needed because TLS is off.
	ReasonTLSNotEnabled = "TLSNotEnabled"
	// ReasonContainerMissing: an image could not be resolved to a digest.
	ReasonContainerMissing = "ContainerMissing"
	// ReasonResolvingDigests: image digests are being resolved.
	ReasonResolvingDigests = "ResolvingDigests"
	// ReasonDeploying: the Revision's pods are being created.
	ReasonDeploying = "Deploying"
	// ReasonProgressDeadlineExceeded: the Revision never reached its initial
	// scale.
	ReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
	// ReasonNoTraffic: the Revision is scaled to zero (Active False).
	ReasonNoTraffic = "NoTraffic"
	// ReasonNewObservedGenFailure: Ready while a new generation is being
	// reconciled.
	ReasonNewObservedGenFailure = "NewObservedGenFailure"
)

// Messages Knative uses verbatim.
const (
	// MessageTLSNotEnabled is the CertificateProvisioned message when
	// external-domain-tls is off.
	MessageTLSNotEnabled = "external-domain-tls is not enabled"
	// MessageClusterLocalTLSNotEnabled is the CertificateProvisioned message
	// for cluster-local routes when cluster-local-domain-tls is off.
	MessageClusterLocalTLSNotEnabled = "TLS is not enabled for cluster-local"
	// MessageNewObservedGenFailure is Ready's message while a new
	// generation is being reconciled.
	MessageNewObservedGenFailure = "unsuccessfully observed a new generation"
)

func serviceCondSet() ConditionSet {
	return NewLivingConditionSet(ServiceConditionConfigurationsReady, ServiceConditionRoutesReady)
}

func configurationCondSet() ConditionSet { return NewLivingConditionSet() }

func revisionCondSet() ConditionSet {
	return NewLivingConditionSet(RevisionConditionResourcesAvailable, RevisionConditionContainerHealthy)
}

func routeCondSet() ConditionSet {
	return NewLivingConditionSet(RouteConditionAllTrafficAssigned, RouteConditionIngressReady, RouteConditionCertificateProvisioned)
}

// ---------------------------------------------------------------------------
// Service

// IsReady reports whether the status describes the current generation and
// Ready is True.
func (s *Service) IsReady() bool { return isReady(&s.ObjectMeta, &s.Status.Status) }

// IsFailed reports whether the status describes the current generation and
// Ready is False.
func (s *Service) IsFailed() bool { return isFailed(&s.ObjectMeta, &s.Status.Status) }

// ConditionManager returns the manager of the Service's conditions.
func (ss *ServiceStatus) ConditionManager() ConditionManager {
	return serviceCondSet().Manage(&ss.Status)
}

// InitializeConditions adds missing Ready, ConfigurationsReady and
// RoutesReady conditions as Unknown.
func (ss *ServiceStatus) InitializeConditions(now time.Time) {
	ss.ConditionManager().InitializeConditions(now)
}

// MarkConfigurationNotOwned reports that a Configuration named name exists
// but is not controlled by this Service.
func (ss *ServiceStatus) MarkConfigurationNotOwned(now time.Time, name string) {
	ss.ConditionManager().MarkFalse(now, ServiceConditionConfigurationsReady, ReasonNotOwned,
		fmt.Sprintf("There is an existing Configuration %q that we do not own.", name))
}

// MarkRouteNotOwned reports that a Route named name exists but is not
// controlled by this Service.
func (ss *ServiceStatus) MarkRouteNotOwned(now time.Time, name string) {
	ss.ConditionManager().MarkFalse(now, ServiceConditionRoutesReady, ReasonNotOwned,
		fmt.Sprintf("There is an existing Route %q that we do not own.", name))
}

// MarkConfigurationNotReconciled reports that the Configuration has not yet
// observed its latest generation.
func (ss *ServiceStatus) MarkConfigurationNotReconciled(now time.Time) {
	ss.ConditionManager().MarkUnknown(now, ServiceConditionConfigurationsReady, ReasonOutOfDate,
		"The Configuration is still working to reflect the latest desired specification.")
}

// MarkRouteNotReconciled reports that the Route has not yet observed its
// latest generation.
func (ss *ServiceStatus) MarkRouteNotReconciled(now time.Time) {
	ss.ConditionManager().MarkUnknown(now, ServiceConditionRoutesReady, ReasonOutOfDate,
		"The Route is still working to reflect the latest desired specification.")
}

// MarkRevisionNameTaken reports that the BYO revision name is used by a
// conflicting Revision.
func (ss *ServiceStatus) MarkRevisionNameTaken(now time.Time, name string) {
	ss.ConditionManager().MarkFalse(now, ServiceConditionRoutesReady, ReasonRevisionNameTaken,
		fmt.Sprintf("The revision name %q is taken by a conflicting Revision, so traffic will not be migrated", name))
}

// MarkRouteNotYetReady reports that the Route is Ready but its traffic does
// not yet point at the latest ready Revision.
func (ss *ServiceStatus) MarkRouteNotYetReady(now time.Time) {
	ss.ConditionManager().MarkUnknown(now, ServiceConditionRoutesReady, ReasonTrafficNotMigrated,
		"Traffic is not yet migrated to the latest revision.")
}

// PropagateConfigurationStatus copies the latest created/ready revision
// names, and the Configuration's Ready condition (status, reason, message)
// into ConfigurationsReady.
func (ss *ServiceStatus) PropagateConfigurationStatus(now time.Time, cs *ConfigurationStatus) {
	ss.ConfigurationStatusFields = cs.ConfigurationStatusFields
	propagate(now, ss.ConditionManager(), ServiceConditionConfigurationsReady, cs.GetCondition(ConfigurationConditionReady))
}

// PropagateRouteStatus copies the URL, address and traffic (deep-copied),
// and the Route's Ready condition into RoutesReady.
func (ss *ServiceStatus) PropagateRouteStatus(now time.Time, rs *RouteStatus) {
	rs.RouteStatusFields.DeepCopyInto(&ss.RouteStatusFields)
	propagate(now, ss.ConditionManager(), ServiceConditionRoutesReady, rs.GetCondition(RouteConditionReady))
}

func propagate(now time.Time, m ConditionManager, t ConditionType, from *Condition) {
	if from == nil {
		return
	}
	switch from.Status {
	case corev1.ConditionTrue:
		m.MarkTrue(now, t)
	case corev1.ConditionFalse:
		m.MarkFalse(now, t, from.Reason, from.Message)
	case corev1.ConditionUnknown:
		m.MarkUnknown(now, t, from.Reason, from.Message)
	}
}

// ---------------------------------------------------------------------------
// Configuration

// IsReady reports whether the status describes the current generation and
// Ready is True.
func (c *Configuration) IsReady() bool { return isReady(&c.ObjectMeta, &c.Status.Status) }

// IsFailed reports whether the status describes the current generation and
// Ready is False.
func (c *Configuration) IsFailed() bool { return isFailed(&c.ObjectMeta, &c.Status.Status) }

// ConditionManager returns the manager of the Configuration's conditions.
func (cs *ConfigurationStatus) ConditionManager() ConditionManager {
	return configurationCondSet().Manage(&cs.Status)
}

// InitializeConditions adds a missing Ready condition as Unknown.
func (cs *ConfigurationStatus) InitializeConditions(now time.Time) {
	cs.ConditionManager().InitializeConditions(now)
}

// SetLatestCreatedRevisionName records the Revision stamped for the
// current generation; while it is not the latest ready one, Ready is
// Unknown.
func (cs *ConfigurationStatus) SetLatestCreatedRevisionName(now time.Time, name string) {
	cs.LatestCreatedRevisionName = name
	if cs.LatestReadyRevisionName != name {
		cs.ConditionManager().MarkUnknown(now, ConfigurationConditionReady, "", "")
	}
}

// SetLatestReadyRevisionName records the newest ready Revision; when it is
// also the latest created one, Ready becomes True.
func (cs *ConfigurationStatus) SetLatestReadyRevisionName(now time.Time, name string) {
	cs.LatestReadyRevisionName = name
	if cs.LatestReadyRevisionName == cs.LatestCreatedRevisionName {
		cs.ConditionManager().MarkTrue(now, ConfigurationConditionReady)
	}
}

// MarkLatestCreatedFailed reports that the latest created Revision failed;
// message is that Revision's Ready message.
func (cs *ConfigurationStatus) MarkLatestCreatedFailed(now time.Time, name, message string) {
	cs.ConditionManager().MarkFalse(now, ConfigurationConditionReady, ReasonRevisionFailed,
		fmt.Sprintf("Revision %q failed with message: %s.", name, message))
}

// MarkRevisionCreationFailed reports that the Revision for the current
// generation could not be created.
func (cs *ConfigurationStatus) MarkRevisionCreationFailed(now time.Time, message string) {
	cs.ConditionManager().MarkFalse(now, ConfigurationConditionReady, ReasonRevisionFailed,
		fmt.Sprintf("Revision creation failed with message: %s.", message))
}

// MarkLatestReadyDeleted reports that the latest ready Revision was deleted.
func (cs *ConfigurationStatus) MarkLatestReadyDeleted(now time.Time) {
	cs.ConditionManager().MarkFalse(now, ConfigurationConditionReady, ReasonRevisionDeleted,
		fmt.Sprintf("Revision %q was deleted.", cs.LatestReadyRevisionName))
}

// ---------------------------------------------------------------------------
// Revision

// IsReady reports whether the status describes the current generation and
// Ready is True.
func (r *Revision) IsReady() bool { return isReady(&r.ObjectMeta, &r.Status.Status) }

// IsFailed reports whether the status describes the current generation and
// Ready is False.
func (r *Revision) IsFailed() bool { return isFailed(&r.ObjectMeta, &r.Status.Status) }

// ConditionManager returns the manager of the Revision's conditions.
func (rs *RevisionStatus) ConditionManager() ConditionManager {
	return revisionCondSet().Manage(&rs.Status)
}

// InitializeConditions adds missing Ready, ResourcesAvailable and
// ContainerHealthy conditions as Unknown.
func (rs *RevisionStatus) InitializeConditions(now time.Time) {
	rs.ConditionManager().InitializeConditions(now)
}

// MarkResourcesAvailableTrue sets ResourcesAvailable True.
func (rs *RevisionStatus) MarkResourcesAvailableTrue(now time.Time) {
	rs.ConditionManager().MarkTrue(now, RevisionConditionResourcesAvailable)
}

// MarkResourcesAvailableFalse sets ResourcesAvailable (and Ready) False.
func (rs *RevisionStatus) MarkResourcesAvailableFalse(now time.Time, reason, message string) {
	rs.ConditionManager().MarkFalse(now, RevisionConditionResourcesAvailable, reason, message)
}

// MarkResourcesAvailableUnknown sets ResourcesAvailable Unknown.
func (rs *RevisionStatus) MarkResourcesAvailableUnknown(now time.Time, reason, message string) {
	rs.ConditionManager().MarkUnknown(now, RevisionConditionResourcesAvailable, reason, message)
}

// MarkContainerHealthyTrue sets ContainerHealthy True.
func (rs *RevisionStatus) MarkContainerHealthyTrue(now time.Time) {
	rs.ConditionManager().MarkTrue(now, RevisionConditionContainerHealthy)
}

// MarkContainerHealthyFalse sets ContainerHealthy (and Ready) False.
func (rs *RevisionStatus) MarkContainerHealthyFalse(now time.Time, reason, message string) {
	rs.ConditionManager().MarkFalse(now, RevisionConditionContainerHealthy, reason, message)
}

// MarkContainerHealthyUnknown sets ContainerHealthy Unknown.
func (rs *RevisionStatus) MarkContainerHealthyUnknown(now time.Time, reason, message string) {
	rs.ConditionManager().MarkUnknown(now, RevisionConditionContainerHealthy, reason, message)
}

// MarkContainerMissing reports that an image could not be resolved to a
// digest: ContainerHealthy (and Ready) False, reason ContainerMissing.
func (rs *RevisionStatus) MarkContainerMissing(now time.Time, image string, err error) {
	rs.MarkContainerHealthyFalse(now, ReasonContainerMissing,
		fmt.Sprintf("Unable to fetch image %q: failed to resolve image to digest: %v", image, err))
}

// MarkActiveTrue sets Active True (the Revision has pods).
func (rs *RevisionStatus) MarkActiveTrue(now time.Time) {
	rs.ConditionManager().MarkTrue(now, RevisionConditionActive)
}

// MarkActiveFalse sets Active False; Ready is not affected.
func (rs *RevisionStatus) MarkActiveFalse(now time.Time, reason, message string) {
	rs.ConditionManager().MarkFalse(now, RevisionConditionActive, reason, message)
}

// MarkActiveUnknown sets Active Unknown; Ready is not affected.
func (rs *RevisionStatus) MarkActiveUnknown(now time.Time, reason, message string) {
	rs.ConditionManager().MarkUnknown(now, RevisionConditionActive, reason, message)
}

// ---------------------------------------------------------------------------
// Route

// IsReady reports whether the status describes the current generation and
// Ready is True.
func (r *Route) IsReady() bool { return isReady(&r.ObjectMeta, &r.Status.Status) }

// IsFailed reports whether the status describes the current generation and
// Ready is False.
func (r *Route) IsFailed() bool { return isFailed(&r.ObjectMeta, &r.Status.Status) }

// ConditionManager returns the manager of the Route's conditions.
func (rs *RouteStatus) ConditionManager() ConditionManager { return routeCondSet().Manage(&rs.Status) }

// InitializeConditions adds missing Ready, AllTrafficAssigned, IngressReady
// and CertificateProvisioned conditions as Unknown.
func (rs *RouteStatus) InitializeConditions(now time.Time) {
	rs.ConditionManager().InitializeConditions(now)
}

// MarkTrafficAssigned sets AllTrafficAssigned True.
func (rs *RouteStatus) MarkTrafficAssigned(now time.Time) {
	rs.ConditionManager().MarkTrue(now, RouteConditionAllTrafficAssigned)
}

// MarkUnknownTrafficError reports a traffic build error that is not a
// target error: AllTrafficAssigned Unknown, reason Unknown.
func (rs *RouteStatus) MarkUnknownTrafficError(now time.Time, message string) {
	rs.ConditionManager().MarkUnknown(now, RouteConditionAllTrafficAssigned, ReasonUnknown, message)
}

// MarkConfigurationNotReady reports a Configuration without a ready
// Revision yet.
func (rs *RouteStatus) MarkConfigurationNotReady(now time.Time, name string) {
	rs.ConditionManager().MarkUnknown(now, RouteConditionAllTrafficAssigned, ReasonRevisionMissing,
		fmt.Sprintf("Configuration %q is waiting for a Revision to become ready.", name))
}

// MarkConfigurationFailed reports a failed Configuration with no ready
// Revision.
func (rs *RouteStatus) MarkConfigurationFailed(now time.Time, name string) {
	rs.ConditionManager().MarkFalse(now, RouteConditionAllTrafficAssigned, ReasonRevisionMissing,
		fmt.Sprintf("Configuration %q does not have any ready Revision.", name))
}

// MarkRevisionNotReady reports a referenced Revision that is not ready yet.
func (rs *RouteStatus) MarkRevisionNotReady(now time.Time, name string) {
	rs.ConditionManager().MarkUnknown(now, RouteConditionAllTrafficAssigned, ReasonRevisionMissing,
		fmt.Sprintf("Revision %q is not yet ready.", name))
}

// MarkRevisionFailed reports a referenced Revision whose Ready is False.
func (rs *RouteStatus) MarkRevisionFailed(now time.Time, name string) {
	rs.ConditionManager().MarkFalse(now, RouteConditionAllTrafficAssigned, ReasonRevisionMissing,
		fmt.Sprintf("Revision %q failed to become ready.", name))
}

// MarkMissingTrafficTarget reports a referenced object that does not
// exist; kind is "Configuration" or "Revision".
func (rs *RouteStatus) MarkMissingTrafficTarget(now time.Time, kind, name string) {
	rs.ConditionManager().MarkFalse(now, RouteConditionAllTrafficAssigned, kind+"Missing",
		fmt.Sprintf("%s %q referenced in traffic not found.", kind, name))
}

// MarkRevisionNotOwned reports a Revision that belongs to another Service
// (actual; empty when it belongs to none) than the Route's (expected).
func (rs *RouteStatus) MarkRevisionNotOwned(now time.Time, revision, actual, expected string) {
	msg := fmt.Sprintf("Revision %q belongs to Service %q, not Service %q.", revision, actual, expected)
	if actual == "" {
		msg = fmt.Sprintf("Revision %q does not belong to Service %q.", revision, expected)
	}
	rs.ConditionManager().MarkFalse(now, RouteConditionAllTrafficAssigned, ReasonRevisionNotOwned, msg)
}

// MarkDomainError reports a domain or tag template that produced a bad host
// name; message is used verbatim (Knative's starts with "domain name error: ").
func (rs *RouteStatus) MarkDomainError(now time.Time, message string) {
	rs.ConditionManager().MarkFalse(now, RouteConditionAllTrafficAssigned, ReasonErrorConfig, message)
}

// MarkIngressNotConfigured reports that the ingress has not yet been
// programmed for this generation.
func (rs *RouteStatus) MarkIngressNotConfigured(now time.Time) {
	rs.ConditionManager().MarkUnknown(now, RouteConditionIngressReady, ReasonIngressNotConfigured,
		"Ingress has not yet been reconciled.")
}

// MarkIngressRolloutInProgress reports a gradual rollout in progress.
func (rs *RouteStatus) MarkIngressRolloutInProgress(now time.Time) {
	rs.ConditionManager().MarkUnknown(now, RouteConditionIngressReady, ReasonRolloutInProgress,
		"A gradual rollout of the latest revision(s) is in progress.")
}

// PropagateIngressReady mirrors the ingress's readiness into IngressReady.
func (rs *RouteStatus) PropagateIngressReady(now time.Time, status corev1.ConditionStatus, reason, message string) {
	propagate(now, rs.ConditionManager(), RouteConditionIngressReady,
		&Condition{Status: status, Reason: reason, Message: message})
}

// MarkPlaceholderServiceNotOwned reports a placeholder Service owned by
// someone else.
func (rs *RouteStatus) MarkPlaceholderServiceNotOwned(now time.Time, name string) {
	rs.ConditionManager().MarkFalse(now, RouteConditionIngressReady, ReasonNotOwned,
		fmt.Sprintf("There is an existing placeholder Service %q that we do not own.", name))
}

// MarkTLSNotEnabled sets CertificateProvisioned True with reason
// TLSNotEnabled and the given message (MessageTLSNotEnabled or
// MessageClusterLocalTLSNotEnabled).
func (rs *RouteStatus) MarkTLSNotEnabled(now time.Time, message string) {
	rs.ConditionManager().MarkTrueWithReason(now, RouteConditionCertificateProvisioned, ReasonTLSNotEnabled, message)
}

// MarkCertificateProvisioned sets CertificateProvisioned True.
func (rs *RouteStatus) MarkCertificateProvisioned(now time.Time) {
	rs.ConditionManager().MarkTrue(now, RouteConditionCertificateProvisioned)
}
