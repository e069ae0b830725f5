package controller

import (
	"context"
	"log/slog"
	"net"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/servekit/servekit/activator"
	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/route"
	"github.com/servekit/servekit/serving/gc"
	"github.com/servekit/servekit/serving/ingress"
	"github.com/servekit/servekit/serving/runtime"
	v1 "github.com/servekit/servekit/serving/v1"
)

// Options configure a Controller. Only Backend is required.
type Options struct {
	// Backend runs the pods; required.
	Backend runtime.Backend
	// Clock drives the autoscaler, the activator and the resync loop, and stamps
	// conditions. Nil means the real clock.
	Clock clock.WithTicker
	// Logger receives one line per scaling decision that changes a revision's scale,
	// per revision state change, and errors. Nil discards.
	Logger *slog.Logger
	// Defaults are the config-defaults values used to default and validate applied
	// objects. Nil means v1.StockDefaults().
	Defaults *v1.Defaults
	// Autoscaler is config-autoscaler. Nil means autoscaler.DefaultConfig(). It
	// also validates the autoscaling annotations of applied objects (e.g.
	// initial-scale 0 needs allow-zero-initial-scale), unless
	// Defaults.Autoscaler is set.
	Autoscaler *autoscaler.Config
	// Network is config-network + config-domain + config-features (hosts, tags,
	// tag-header routing). Nil means Knative's defaults with the domain example.com.
	Network *route.Config
	// GC is config-gc. Nil means gc.DefaultConfig().
	GC *gc.Config
	// PeerToken is the secret the activator shares with the pods' queue proxies
	// (queue.PeerTokenHeader). The backend must hand the same token to its proxies.
	// Empty means none: pods then count activator traffic twice.
	PeerToken string
	// SourceGenerations makes Configuration generations, and so Revision names
	// (<configuration>-<5-digit generation>), come from the objects' source, as
	// Knative's come from the API server: a Configuration applied with a nonzero
	// metadata.generation keeps it, and a Service's Configuration whose spec is
	// new or changed stamps no Revision until ConfirmGeneration reports the
	// generation the source gave that spec. The Kubernetes store needs it so that
	// names survive a controller restart. False (manifest files) means the
	// controller counts generations itself from 1.
	SourceGenerations bool
	// OnActivatorStat, if not nil, observes every per-revision report of this
	// controller's own activator (once per second per active revision, and at once
	// for a cold start), after it has gone into this controller's autoscaler. With
	// several replicas, the binary forwards them to its peers, which record them with
	// RecordActivatorStat, so that whichever replica scales sees all the demand. It
	// must not block.
	OnActivatorStat func(namespace, name string, concurrency, requestCount float64)
	// DialContext connects the ingress and the activator to pods (and carries the
	// activator's probes). Nil means a net.Dialer with a 5s timeout. Embedders use it
	// to reach pods through a tunnel or another network namespace.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Reporter observes requests and revisions for metrics. Nil reports nothing.
	Reporter Reporter
	// ActivatorHooks observe the activator's cold starts, queue waits and
	// rejections (e.g. activator/ocmetrics). Nil fields are no-ops.
	ActivatorHooks activator.Hooks
	// Certificates, if not nil, are the HTTPS ingress's certificates as the
	// DomainMapping reconciler sees them (see DomainCertificates): a mapping whose
	// host the HTTPS ingress serves with a valid certificate gets an https URL and
	// CertificateProvisioned True; one whose spec.tls names a certificate that is
	// not there gets CertificateProvisioned False (Unknown while it is looked
	// for). Call CertificatesChanged when they change. Nil means the platform
	// serves no HTTPS: every mapping's URL is http and CertificateProvisioned
	// True, reason TLSNotEnabled, but a mapping with spec.tls, whose
	// CertificateProvisioned is False, reason HTTPSNotEnabled.
	Certificates DomainCertificates
	// Store, if not nil, keeps the Controller's objects across restarts (see
	// Store): New loads them, and every change is committed before anyone can
	// observe it (Apply, Delete and each reconcile commit before they return). Nil
	// keeps everything in memory only.
	Store Store
	// ResyncInterval is how often time-based state advances without an event: a
	// gradual rollout's steps, a progress deadline, the metrics of revisions with
	// requests waiting in the activator. Each tick reconciles only what changed or
	// is due, never every object. Zero means 1s.
	ResyncInterval time.Duration
	// FullResyncInterval is how often every object is reconciled anyway, as an
	// informer's periodic resync: it applies revision GC's retain times and heals
	// a missed notification. Its cost grows with the number of objects. Zero means
	// DefaultFullResyncInterval.
	FullResyncInterval time.Duration
}

// DefaultFullResyncInterval is the FullResyncInterval of Options that set none.
const DefaultFullResyncInterval = 30 * time.Second

// Reporter receives what the platform measures. Implementations must be safe for
// concurrent use and must not block: ReportRequest runs on the request path.
type Reporter interface {
	// ReportRequest is called once per request the ingress served.
	ReportRequest(RequestReport)
	// ReportRevision is called for a revision whenever the controller reconciles
	// it (it is new, its pods, scale or panic mode changed), every resync tick
	// while requests wait for it in the activator, and for every revision at each
	// full resync (Options.FullResyncInterval); once more, with Deleted set,
	// when the revision is deleted.
	ReportRevision(RevisionReport)
	// ReportColdStart receives the time from a revision's first request waiting with
	// no ready pod to its first ready pod.
	ReportColdStart(key types.NamespacedName, d time.Duration)
}

// RequestReport describes one request served by the ingress (see
// ingress.RequestReport).
type RequestReport = ingress.RequestReport

// RevisionReport is the state of one revision.
type RevisionReport struct {
	// Key names the revision; Service is its serving.knative.dev/service label.
	Key     types.NamespacedName
	Service string
	// DesiredPods is the replica count asked of the backend, ReadyPods those ready.
	DesiredPods, ReadyPods int
	// Panic reports the decider's panic mode.
	Panic bool
	// ActivatorInPath reports Knative's SKS proxy mode.
	ActivatorInPath bool
	// QueueDepth is the number of requests waiting in the activator.
	QueueDepth int
	// Deleted reports that the revision is gone: a Reporter removes its series.
	// Only Key and Service are set then.
	Deleted bool
}

type nopReporter struct{}

func (nopReporter) ReportRequest(RequestReport)                         {}
func (nopReporter) ReportRevision(RevisionReport)                       {}
func (nopReporter) ReportColdStart(types.NamespacedName, time.Duration) {}
