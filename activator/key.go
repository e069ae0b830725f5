package activator

import (
	"errors"
	"fmt"
	"time"
)

// RevisionKey names a revision.
type RevisionKey struct {
	Namespace string
	Name      string
}

// String returns "namespace/name".
func (k RevisionKey) String() string { return k.Namespace + "/" + k.Name }

// Revision is what the activator needs to know about a revision.
type Revision struct {
	// ContainerConcurrency is the most requests one pod serves at once; 0 means
	// unlimited (the revision's gate is open as soon as it has a ready pod). It cannot
	// change once set: revisions are immutable.
	ContainerConcurrency int
	// Timeout bounds each request, time spent waiting for capacity included (an
	// upgraded connection only until its 101 Switching Protocols); zero means
	// DefaultTimeout.
	Timeout time.Duration
	// H2C is true when the revision's pods speak cleartext HTTP/2 (Knative: its
	// container port is named h2c): requests go to them over h2c (prior knowledge),
	// whatever protocol the client used, so that gRPC passes. False means HTTP/1.1.
	// Upgrade requests (websockets) go over HTTP/1.1 either way: HTTP/2 cannot carry
	// them. Like containerConcurrency it cannot change.
	H2C bool
}

// Defaults, as in Knative.
const (
	// DefaultTimeout is the revision timeout used when Revision.Timeout is zero
	// (Knative's timeoutSeconds default, 300 s).
	DefaultTimeout = 300 * time.Second
	// DefaultQueueDepth is how many requests may wait for one revision when
	// Options.QueueDepth is zero (Knative: 10,000).
	DefaultQueueDepth = 10000
	// DefaultQueueBytes is how many bytes of request heads (the request line and the
	// headers, as RequestHeadSize counts them) the requests waiting for one revision may
	// hold in all when Options.QueueBytes is zero: 64 MiB. Knative has no such bound; it
	// keeps 10,000 requests with 1 MB headers each (10 GB) from exhausting memory.
	DefaultQueueBytes = 64 << 20
	// DefaultProbeInterval is how often a pod not yet known healthy is probed.
	DefaultProbeInterval = 200 * time.Millisecond
	// DefaultProbeTimeout bounds one probe.
	DefaultProbeTimeout = 300 * time.Millisecond
	// DefaultReportInterval is how often stats go to the StatSink.
	DefaultReportInterval = time.Second
)

// ErrUnknownRevision is returned (wrapped, with the key) for a revision the Throttler
// does not know, or one removed while its request waited. The Handler answers 404.
var ErrUnknownRevision = errors.New("activator: unknown revision")

// ErrPodUnreachable is returned (wrapped) by a Try callback when nothing could be sent
// to the pod (the connection was refused: the pod is gone). Try then marks the pod
// unhealthy (it is probed again before it is used) and runs the callback again with
// another pod, up to MaxAttempts times in all.
var ErrPodUnreachable = errors.New("activator: pod unreachable")

// MaxAttempts is how many pods one request is offered to when each attempt fails with
// ErrPodUnreachable.
const MaxAttempts = 3

// DeadlineError is returned by Try when a request would have to wait for a cold
// revision and its deadline ends before the revision's last observed cold start would
// finish. The Handler answers 503 with the error's text.
type DeadlineError struct {
	Key RevisionKey
	// Remaining is the time left before the request's deadline.
	Remaining time.Duration
	// Expected is how much longer the cold start is expected to take.
	Expected time.Duration
}

func (e *DeadlineError) Error() string {
	return fmt.Sprintf("activator: revision %s is starting: deadline in %v, expected ready in %v",
		e.Key, e.Remaining.Round(time.Millisecond), e.Expected.Round(time.Millisecond))
}

func (r Revision) validate(key RevisionKey) error {
	switch {
	case key.Namespace == "" || key.Name == "":
		return fmt.Errorf("activator: revision key %q: namespace and name must be set", key)
	case r.ContainerConcurrency < 0:
		return fmt.Errorf("activator: revision %s: containerConcurrency must be >= 0, got %d", key, r.ContainerConcurrency)
	case r.Timeout < 0:
		return fmt.Errorf("activator: revision %s: timeout must be >= 0, got %v", key, r.Timeout)
	}
	return nil
}

func (r Revision) timeout() time.Duration {
	if r.Timeout == 0 {
		return DefaultTimeout
	}
	return r.Timeout
}
