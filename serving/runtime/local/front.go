package local

import (
	"context"
	"net"
	"time"

	"github.com/servekit/servekit/autoscaler/metrics"
)

// Front is the proxy in front of one pod's user container: what Knative runs as the
// queue-proxy sidecar. The runtime serves it on the pod's own loopback port, asks it
// whether the container is ready, scrapes its stats, and drains it before stopping the
// pod. The default (Options.NewFront nil) is the queue package's Proxy, in-process.
type Front interface {
	// Serve serves the pod's traffic on ln until ctx is done, then stops accepting,
	// finishes the requests in flight and returns.
	Serve(ctx context.Context, ln net.Listener) error
	// Ready reports whether the user container answers its readiness probe.
	Ready(ctx context.Context) bool
	// Stats returns the pod's statistics for the second that ended at now, as the
	// queue proxy reports them to the autoscaler (Knative's Stat message).
	Stats(now time.Time) metrics.Stat
	// InFlight returns the number of requests the proxy holds (queued and running).
	InFlight() int
	// Drain stops admitting new work once no request has arrived for the front's
	// quiet period, and waits for the requests in flight; it returns when all are done
	// or ctx is done.
	Drain(ctx context.Context) error
}

// FrontConfig is what a Front needs to know about its pod.
type FrontConfig struct {
	// UserAddr is the user container's address, 127.0.0.1:<PORT>.
	UserAddr string
	// ContainerConcurrency is the revision's containerConcurrency (0: unlimited).
	ContainerConcurrency int
	// Timeout, ResponseStartTimeout and IdleTimeout are the revision's timeouts
	// (zero: none).
	Timeout, ResponseStartTimeout, IdleTimeout time.Duration
	// ReadinessProbe is the container's readiness probe as JSON (corev1.Probe), or
	// empty for Knative's default TCP probe of the port.
	ReadinessProbe string
	// PeerToken is the secret shared with the pod's trusted peers (the activator).
	PeerToken string
	// Pod names the pod, for logs.
	Pod string
	// DrainQuietPeriod is how long a drain waits with no new request before the pod
	// stops (Knative: 30s; traffic here learns of a leaving pod at once).
	DrainQuietPeriod time.Duration
	// DrainStreamDeadline is how long a drain lets long-lived streams (websockets,
	// gRPC calls, event streams) go on before it closes them cleanly
	// (queue.ProxyOptions.DrainStreamDeadline); zero means Timeout.
	DrainStreamDeadline time.Duration
}
