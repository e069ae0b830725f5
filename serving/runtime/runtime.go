package runtime

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/autoscaler/metrics"
	v1 "github.com/servekit/servekit/serving/v1"
)

// Backend runs a revision's pods somewhere: local processes, a Kubernetes cluster.
// The controller calls Apply once per new revision, Scale whenever the autoscaler's
// result changes, Delete when the revision goes, and reads Pods and Stats. All methods
// must be safe for concurrent use (see the package documentation).
type Backend interface {
	// Run runs the backend until ctx is done, calling notify (from any goroutine,
	// possibly concurrently) whenever the pods of a revision change, and returns once
	// every pod it started is gone.
	Run(ctx context.Context, notify func(types.NamespacedName)) error
	// Apply makes a revision known so it can be scaled. The error names what the
	// backend cannot run (e.g. an image it cannot map); the controller reports it in
	// the revision's status.
	Apply(rev *v1.Revision) error
	// Scale sets how many pods the revision should have; scaling down drains the
	// pods that go.
	Scale(key types.NamespacedName, replicas int) error
	// Delete stops every pod of the revision and forgets it.
	Delete(key types.NamespacedName) error
	// Pods returns the revision's pods, terminating ones included.
	Pods(key types.NamespacedName) []Pod
	// Stats returns, for each pod of the revision that has them, its last
	// per-second statistics (what Knative's autoscaler scrapes from queue-proxies),
	// PodName set to the pod's name.
	Stats(key types.NamespacedName, now time.Time) []metrics.Stat
}

// RevisionErrorer is implemented by a Backend that applies asynchronously (its Apply
// only records the revision, e.g. until the revision exists in an API server): it
// reports here the last error of applying the revision key, nil once an apply
// succeeded. The controller reports a non-nil error in the revision's status as it
// reports an error of Apply: ContainerHealthy and ResourcesAvailable False with
// reason RuntimeError and the error as message.
type RevisionErrorer interface {
	RevisionError(key types.NamespacedName) error
}

// HPAScaler is implemented by a Backend that runs Knative's HPA autoscaling class
// (autoscaling.knative.dev/class: hpa.autoscaling.knative.dev) itself: on a
// cluster a HorizontalPodAutoscaler object, on the local runtime the same algorithm
// (package autoscaler/hpa) on the pods' CPU or memory. For a revision of that class
// the controller calls SetHPA after Apply, and again whenever the revision's
// autoscaling spec changes (config-autoscaler, reachability), and never Scale: the
// KPA does not decide for it, the activator stays out of its path once it has ready
// pods, and it is never scaled to zero. A Backend that does not implement HPAScaler
// cannot run the class: the controller reports such a revision failed.
type HPAScaler interface {
	// SetHPA hands the scale of revision key (already applied) to the backend's
	// HPA, with its autoscaling spec (Class autoscaler.ClassHPA; Metric, TargetValue,
	// MinScale, MaxScale, StableWindow/WindowSet and InitialScale are read, see
	// autoscaler/hpa.SpecFor). The error says what the backend cannot scale (e.g.
	// the cpu metric without a CPU request); the controller reports it in the
	// revision's status as it reports an error of Apply.
	SetHPA(key types.NamespacedName, spec autoscaler.Spec) error
	// HPAStatus returns what the backend's HPA last decided for the revision.
	HPAStatus(key types.NamespacedName) HPAStatus
}

// HPAStatus is the state of a revision's HPA.
type HPAStatus struct {
	// DesiredReplicas is the replica count the HPA last asked for; 0 when it has not
	// decided yet (or the backend does not know).
	DesiredReplicas int32
	// Message says why the HPA cannot measure or scale the revision (e.g. "cpu
	// metrics are unavailable on darwin"); empty when it can.
	Message string
}

// Pod is one pod of a revision as the controller sees it.
type Pod struct {
	// Name identifies the pod.
	Name string
	// Address is host:port of the pod's queue proxy: where traffic is sent.
	Address string
	// Ready is true when the pod may receive traffic.
	Ready bool
	// Terminating is true while the pod drains before it stops.
	Terminating bool
	// Restarts counts the times its container exited and was restarted.
	Restarts int
	// LastExit describes the container's last unexpected exit; empty if none.
	LastExit string
	// Pending is true for a pod the runtime has not started yet (e.g. it waits
	// for room under the local runtime's pod limit); Reason says why.
	Pending bool
	// Reason says why the pod is not ready, when the runtime knows: why a
	// Pending pod waits, why a running pod is out of rotation. Empty otherwise.
	Reason string
	// LastProbeFailure is the last failed probe of the pod's container; zero if
	// none failed (or the runtime does not report probes).
	LastProbeFailure ProbeFailure
}

// ProbeFailure is one failed probe of a pod's container, what the kubelet reports
// as an Unhealthy event.
type ProbeFailure struct {
	// Probe is "startup", "liveness" or "readiness".
	Probe string
	// Message says how it failed ("HTTP probe failed with statuscode: 500").
	Message string
	// Time is when it failed.
	Time time.Time
}

// IsZero reports whether f records no failure.
func (f ProbeFailure) IsZero() bool { return f.Probe == "" }

// Objects is a snapshot of every serving object a controller holds, with its current
// status: the applied Services, Configurations and Routes, and those the controller
// made (a Service's Configuration and Route, every Configuration's Revisions). Each
// list is sorted by namespace and name. A store (serving/runtime/kube/store) reads
// it to write the children and the status back to an API server.
type Objects struct {
	Services       []*v1.Service
	Configurations []*v1.Configuration
	Routes         []*v1.Route
	Revisions      []*v1.Revision
}
