// Package ocmetrics records serving/controller's reports (controller.Reporter) as
// OpenCensus measurements: requests and latency through the ingress, each revision's
// desired and ready pods, panic mode, activator in path and queue depth, and cold
// starts. Binaries register Views and serve them (examples/controller in Prometheus
// text on /metrics).
//
// It is a leaf adapter, like queue/ocmetrics and activator/ocmetrics: the controller
// does not import OpenCensus, so an importer on another metrics stack does not pay
// for it.
package ocmetrics

import (
	"context"
	"strconv"
	"time"

	"go.opencensus.io/stats"
	"go.opencensus.io/stats/view"
	"go.opencensus.io/tag"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/serving/controller"
)

// The controller's measures and tag keys.
var (
	mRequests    = stats.Int64("servekit/ingress/requests", "requests served by the ingress", stats.UnitDimensionless)
	mLatency     = stats.Float64("servekit/ingress/request_latencies", "ingress request latency", stats.UnitMilliseconds)
	mDesiredPods = stats.Int64("servekit/revision/desired_pods", "pods the autoscaler asked for", stats.UnitDimensionless)
	mReadyPods   = stats.Int64("servekit/revision/ready_pods", "ready pods", stats.UnitDimensionless)
	mPanic       = stats.Int64("servekit/revision/panic_mode", "1 while the autoscaler is in panic mode", stats.UnitDimensionless)
	mActivator   = stats.Int64("servekit/revision/activator_in_path", "1 while the activator is in the request path", stats.UnitDimensionless)
	mQueueDepth  = stats.Int64("servekit/activator/queue_depth", "requests waiting in the activator", stats.UnitDimensionless)
	mColdStart   = stats.Float64("servekit/activator/cold_start_seconds", "time from the first request held for a revision at zero to its first ready pod", stats.UnitSeconds)

	keyNamespace = tag.MustNewKey("namespace")
	keyService   = tag.MustNewKey("service")
	keyRoute     = tag.MustNewKey("route")
	keyRevision  = tag.MustNewKey("revision")
	keyCode      = tag.MustNewKey("response_code")
	keyPath      = tag.MustNewKey("path") // "direct" or "activator"
)

// views are what Views returns.
var views = []*view.View{
	{Name: "servekit_requests_total", Description: mRequests.Description(), Measure: mRequests,
		TagKeys: []tag.Key{keyNamespace, keyRoute, keyRevision, keyCode, keyPath}, Aggregation: view.Count()},
	{Name: "servekit_request_latencies_ms", Description: mLatency.Description(), Measure: mLatency,
		TagKeys:     []tag.Key{keyNamespace, keyRoute, keyRevision},
		Aggregation: view.Distribution(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)},
	{Name: "servekit_desired_pods", Description: mDesiredPods.Description(), Measure: mDesiredPods,
		TagKeys: []tag.Key{keyNamespace, keyService, keyRevision}, Aggregation: view.LastValue()},
	{Name: "servekit_ready_pods", Description: mReadyPods.Description(), Measure: mReadyPods,
		TagKeys: []tag.Key{keyNamespace, keyService, keyRevision}, Aggregation: view.LastValue()},
	{Name: "servekit_panic_mode", Description: mPanic.Description(), Measure: mPanic,
		TagKeys: []tag.Key{keyNamespace, keyService, keyRevision}, Aggregation: view.LastValue()},
	{Name: "servekit_activator_in_path", Description: mActivator.Description(), Measure: mActivator,
		TagKeys: []tag.Key{keyNamespace, keyService, keyRevision}, Aggregation: view.LastValue()},
	{Name: "servekit_activator_queue_depth", Description: mQueueDepth.Description(), Measure: mQueueDepth,
		TagKeys: []tag.Key{keyNamespace, keyService, keyRevision}, Aggregation: view.LastValue()},
	{Name: "servekit_cold_start_seconds", Description: mColdStart.Description(), Measure: mColdStart,
		TagKeys:     []tag.Key{keyNamespace, keyRevision},
		Aggregation: view.Distribution(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)},
}

// Views returns the views of the controller's measures, to register (view.Register)
// and to serve. Their names are the Prometheus metric names: servekit_requests_total,
// servekit_request_latencies_ms, servekit_desired_pods, servekit_ready_pods,
// servekit_panic_mode, servekit_activator_in_path, servekit_activator_queue_depth and
// servekit_cold_start_seconds. OpenCensus registers views by name: register them once
// per process.
func Views() []*view.View { return append([]*view.View(nil), views...) }

// Reporter is a controller.Reporter that records the controller's reports as
// OpenCensus measurements. Its zero value is ready to use; nothing is recorded
// unless Views are registered.
type Reporter struct{}

var _ controller.Reporter = Reporter{}

// ReportRequest records one request through the ingress: a count by response code
// and path ("direct" or "activator"), and its latency.
func (Reporter) ReportRequest(r controller.RequestReport) {
	path := "direct"
	if r.ViaActivator {
		path = "activator"
	}
	_ = stats.RecordWithTags(context.Background(), []tag.Mutator{
		tag.Upsert(keyNamespace, r.Namespace), tag.Upsert(keyRoute, r.Route), tag.Upsert(keyRevision, r.Revision),
		tag.Upsert(keyCode, strconv.Itoa(r.Code)), tag.Upsert(keyPath, path),
	}, mRequests.M(1), mLatency.M(float64(r.Latency)/float64(time.Millisecond)))
}

// ReportRevision records a revision's scale: desired and ready pods, panic mode,
// whether the activator is in its path, and the activator's queue depth.
func (Reporter) ReportRevision(r controller.RevisionReport) {
	b := func(v bool) int64 {
		if v {
			return 1
		}
		return 0
	}
	_ = stats.RecordWithTags(context.Background(), []tag.Mutator{
		tag.Upsert(keyNamespace, r.Key.Namespace), tag.Upsert(keyService, r.Service), tag.Upsert(keyRevision, r.Key.Name),
	}, mDesiredPods.M(int64(r.DesiredPods)), mReadyPods.M(int64(r.ReadyPods)), mPanic.M(b(r.Panic)),
		mActivator.M(b(r.ActivatorInPath)), mQueueDepth.M(int64(r.QueueDepth)))
}

// ReportColdStart records the time from the first request held for a revision at
// zero to its first ready pod.
func (Reporter) ReportColdStart(key types.NamespacedName, d time.Duration) {
	_ = stats.RecordWithTags(context.Background(), []tag.Mutator{
		tag.Upsert(keyNamespace, key.Namespace), tag.Upsert(keyRevision, key.Name),
	}, mColdStart.M(d.Seconds()))
}
