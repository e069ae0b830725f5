package runtime

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler/metrics"
	v1 "github.com/servekit/servekit/serving/v1"
	"github.com/servekit/servekit/serving/v1beta1"
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
// made (a Service's Configuration and Route, every Configuration's Revisions), and the
// applied DomainMappings. Each list is sorted by namespace and name. A store (serving/runtime/kube/store) reads
// it to write the children and the status back to an API server.
type Objects struct {
	Services       []*v1.Service
	Configurations []*v1.Configuration
	Routes         []*v1.Route
	Revisions      []*v1.Revision
	DomainMappings []*v1beta1.DomainMapping
}
