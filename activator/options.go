// This file owns the Throttler's configuration: Options, the observability Hooks and
// their rejection reasons, and the default transport to pods.

package activator

import (
	"log/slog"
	"net"
	"net/http"
	"time"

	"k8s.io/utils/clock"
)

// Options configure a Throttler. The zero value is usable.
type Options struct {
	// Clock drives probing and reporting and stamps stats; nil means the real clock.
	Clock clock.WithTicker
	// Transport carries the probes. The Handler uses the same one by default, so a
	// connection warmed by a probe serves the first request. Nil means NewTransport();
	// its idle connections are closed when Run returns.
	Transport http.RoundTripper
	// H2CTransport carries the requests to the pods of H2C revisions (Revision.H2C):
	// it must speak cleartext HTTP/2 with prior knowledge. Nil means
	// H2CTransport(Transport) when Transport is an *http.Transport (or nil), else
	// H2CTransport(NewTransport()); its idle connections are closed when Run returns.
	H2CTransport http.RoundTripper
	// PeerToken is the secret shared with the pods' queue proxies
	// (queue.PeerTokenHeader), sent on probes. Empty sends none.
	PeerToken string
	// StatSink receives the per-revision stats and the scale-from-zero poke; nil
	// discards them.
	StatSink StatSink
	// Hooks observe cold starts, queue waits and rejections; nil fields are no-ops.
	Hooks Hooks
	// Logger receives probe results, ignored endpoint addresses and failovers; nil
	// discards.
	Logger *slog.Logger
	// QueueDepth is how many requests may wait (not yet sent to a pod) per revision;
	// the next is refused with queue.ErrRequestQueueFull. Zero means DefaultQueueDepth.
	QueueDepth int
	// QueueBytes bounds, per revision, the bytes of request heads (TrySized's size)
	// held by the requests waiting; the next is refused with queue.ErrRequestQueueFull,
	// unless no other request waits. Zero means DefaultQueueBytes; negative, no bound.
	QueueBytes int64
	// ProbeInterval is the pause between probes of a pod not yet healthy; zero means
	// DefaultProbeInterval.
	ProbeInterval time.Duration
	// ProbeTimeout bounds one probe; zero means DefaultProbeTimeout.
	ProbeTimeout time.Duration
	// ReportInterval is the stats period; zero means DefaultReportInterval.
	ReportInterval time.Duration
	// Policy returns the load-balancing policy for a containerConcurrency; nil means
	// PolicyFor.
	Policy func(containerConcurrency int) Policy
}

// Hooks are called on events worth measuring. A nil field is a no-op. They are called
// concurrently and must not block.
type Hooks struct {
	// ColdStart receives, per revision, the time from the first request that had to
	// wait for a revision without ready pods to the moment its first pod became ready.
	ColdStart func(key RevisionKey, d time.Duration)
	// QueueWait receives each request's time from arrival to being handed to a pod.
	QueueWait func(key RevisionKey, d time.Duration)
	// Rejected is called for each request refused without reaching a pod, with a short
	// reason: "unknown-revision", "queue-full", "deadline" (DeadlineError) or "timeout"
	// (no capacity within the request's deadline).
	Rejected func(key RevisionKey, reason string)
}

// Rejection reasons passed to Hooks.Rejected.
const (
	ReasonUnknownRevision = "unknown-revision"
	ReasonQueueFull       = "queue-full"
	ReasonDeadline        = "deadline"
	ReasonTimeout         = "timeout"
)

// NewTransport returns the transport the Throttler and Handler use by default: plain
// HTTP/1.1 to pod addresses, no proxy from the environment, no compression, and a
// large idle pool (Knative: 1000 in all, 100 per pod).
func NewTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1000,
		MaxIdleConnsPerHost:   100,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

// H2CTransport returns a copy of base that speaks only cleartext HTTP/2 with prior
// knowledge (h2c), for pods whose app serves gRPC or HTTP/2: requests to one pod
// share one connection, up to the pod's limit of concurrent streams (Go's default:
// 250), and a new connection is opened only past it. Upgrade requests cannot pass
// over it (HTTP/2 has no Upgrade).
//
// It dials one connection at a time per pod (MaxConnsPerHost 1): without that,
// concurrent requests that find no connection each dial their own (a burst of 600
// requests, as when a cold revision's first pod gets ready, opened 81 connections;
// with it, 3: one per 250 streams). Past the streams limit net/http still opens a
// new connection.
func H2CTransport(base *http.Transport) *http.Transport {
	tr := base.Clone()
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	tr.MaxConnsPerHost = 1
	return tr
}
