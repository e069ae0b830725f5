package serving

// GroupName is the API group of the serving kinds: Service, Configuration,
// Revision and Route.
const GroupName = "serving.knative.dev"

// GroupNamePrefix is GroupName followed by a slash: the prefix of every
// serving label and annotation key.
const GroupNamePrefix = GroupName + "/"

// Label keys that Knative puts on serving objects.
const (
	// ServiceLabelKey names the Service that owns a Configuration, Route or
	// Revision.
	ServiceLabelKey = GroupName + "/service"
	// ServiceUIDLabelKey holds the UID of the owning Service.
	ServiceUIDLabelKey = GroupName + "/serviceUID"
	// ConfigurationLabelKey names the Configuration a Revision was stamped from.
	ConfigurationLabelKey = GroupName + "/configuration"
	// ConfigurationUIDLabelKey holds the UID of the Configuration a Revision
	// was stamped from.
	ConfigurationUIDLabelKey = GroupName + "/configurationUID"
	// ConfigurationGenerationLabelKey holds, in decimal, the Configuration
	// generation a Revision was stamped from.
	ConfigurationGenerationLabelKey = GroupName + "/configurationGeneration"
	// RevisionLabelKey names the Revision that owns a Deployment, its pods and
	// the autoscaling objects.
	RevisionLabelKey = GroupName + "/revision"
	// RevisionUID holds the UID of the Revision that owns a Deployment and its
	// pods.
	RevisionUID = GroupName + "/revisionUID"
	// RouteLabelKey names the Route that owns an Ingress or placeholder
	// Service.
	RouteLabelKey = GroupName + "/route"
	// RouteNamespaceLabelKey holds the namespace of the Route that owns an
	// Ingress.
	RouteNamespaceLabelKey = GroupName + "/routeNamespace"
	// RoutingStateLabelKey holds a Revision's routing state: one of
	// RoutingStatePending, RoutingStateActive, RoutingStateReserve.
	RoutingStateLabelKey = GroupName + "/routingState"
	// DeploymentHashLabelKey is put on a Revision's Deployment (not its pods):
	// a hash of the Deployment spec, labels and annotations.
	DeploymentHashLabelKey = GroupName + "/deployment-hash"
)

// Annotation keys that Knative reads or writes on serving objects.
const (
	// CreatorAnnotation records the user who created the object. It is
	// immutable.
	CreatorAnnotation = GroupName + "/creator"
	// UpdaterAnnotation records the user who last changed the object's spec.
	UpdaterAnnotation = GroupName + "/lastModifier"
	// RoutesAnnotationKey lists, sorted and comma-separated, the Routes that
	// reference a Configuration or Revision.
	RoutesAnnotationKey = GroupName + "/routes"
	// RoutingStateModifiedAnnotationKey holds the RFC 3339 UTC time at which
	// a Revision's routing state last changed.
	RoutingStateModifiedAnnotationKey = GroupName + "/routingStateModified"
	// RevisionLastPinnedAnnotationKey is the legacy "last pinned" time of a
	// Revision (older garbage collector).
	RevisionLastPinnedAnnotationKey = GroupName + "/lastPinned"
	// RevisionPreservedAnnotationKey set to "true" (any case) keeps a Revision
	// from being garbage collected.
	RevisionPreservedAnnotationKey = GroupName + "/no-gc"
	// RolloutDurationKey, on a Service or Route, is the gradual rollout
	// duration as a Go duration with whole seconds ("120s").
	RolloutDurationKey = GroupName + "/rollout-duration"
	// RolloutDurationKeyLegacy is the camelCase spelling of
	// RolloutDurationKey that Knative still accepts.
	RolloutDurationKeyLegacy = GroupName + "/rolloutDuration"
	// ProgressDeadlineAnnotationKey, on a revision template, overrides the
	// Deployment progress deadline (a Go duration with whole seconds).
	ProgressDeadlineAnnotationKey = GroupName + "/progress-deadline"

	// QueueSidecarResourcePercentageAnnotationKey is the deprecated
	// percentage of the user container's resources given to the queue proxy.
	QueueSidecarResourcePercentageAnnotationKey = "queue.sidecar." + GroupName + "/resource-percentage"
	// QueueSidecarCPUResourceRequestAnnotationKey sets the queue proxy's CPU
	// request (a resource quantity).
	QueueSidecarCPUResourceRequestAnnotationKey = "queue.sidecar." + GroupName + "/cpu-resource-request"
	// QueueSidecarCPUResourceLimitAnnotationKey sets the queue proxy's CPU
	// limit.
	QueueSidecarCPUResourceLimitAnnotationKey = "queue.sidecar." + GroupName + "/cpu-resource-limit"
	// QueueSidecarMemoryResourceRequestAnnotationKey sets the queue proxy's
	// memory request.
	QueueSidecarMemoryResourceRequestAnnotationKey = "queue.sidecar." + GroupName + "/memory-resource-request"
	// QueueSidecarMemoryResourceLimitAnnotationKey sets the queue proxy's
	// memory limit.
	QueueSidecarMemoryResourceLimitAnnotationKey = "queue.sidecar." + GroupName + "/memory-resource-limit"
	// QueueSidecarEphemeralStorageResourceRequestAnnotationKey sets the queue
	// proxy's ephemeral-storage request.
	QueueSidecarEphemeralStorageResourceRequestAnnotationKey = "queue.sidecar." + GroupName + "/ephemeral-storage-resource-request"
	// QueueSidecarEphemeralStorageResourceLimitAnnotationKey sets the queue
	// proxy's ephemeral-storage limit.
	QueueSidecarEphemeralStorageResourceLimitAnnotationKey = "queue.sidecar." + GroupName + "/ephemeral-storage-resource-limit"

	// LastAppliedConfigAnnotation is kubectl's annotation; Knative drops it
	// when it copies a Service's annotations to its children.
	LastAppliedConfigAnnotation = "kubectl.kubernetes.io/last-applied-configuration"
	// DefaultContainerAnnotation names the serving container on the pod
	// template.
	DefaultContainerAnnotation = "kubectl.kubernetes.io/default-container"
	// HTTPFullDuplexAnnotationKey set to "Enabled" turns on full-duplex HTTP
	// in the queue proxy.
	HTTPFullDuplexAnnotationKey = "features.knative.dev/http-full-duplex"
)

// Routing states, the values of RoutingStateLabelKey.
const (
	// RoutingStatePending is a new Revision not yet referenced by a Route.
	RoutingStatePending = "pending"
	// RoutingStateActive is a Revision referenced by at least one Route.
	RoutingStateActive = "active"
	// RoutingStateReserve is a Revision no Route references any more; it
	// scales to zero and may be garbage collected.
	RoutingStateReserve = "reserve"
)

// Networking keys (group networking.knative.dev) that serving objects carry.
const (
	// NetworkingGroupName is the networking API group.
	NetworkingGroupName = "networking.knative.dev"
	// VisibilityLabelKey, a label on a Service, Route or placeholder Service,
	// set to VisibilityClusterLocal makes it reachable only in the cluster.
	VisibilityLabelKey = NetworkingGroupName + "/visibility"
	// VisibilityClusterLocal is the value of VisibilityLabelKey for
	// cluster-local routes.
	VisibilityClusterLocal = "cluster-local"
)

// The autoscaling annotation keys (group autoscaling.knative.dev), the
// autoscaler classes and metric names are defined once, with their parsers
// and bounds, in package github.com/servekit/servekit/autoscaler
// (GroupName, AnnotationKeys, ValidateAnnotations). They are valid only on a
// revision template or a Revision, never on a Service, Configuration or
// Route's own metadata.
