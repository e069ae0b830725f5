// Package ocmetrics records serving/controller's reports (controller.Reporter) as
// OpenCensus metrics: requests and latency through the ingress and cold starts as
// views, and each revision's desired and ready pods, panic mode, activator in path
// and queue depth as gauges the Reporter keeps itself (Read), so that a deleted
// revision's series go with it. Binaries register Views and serve them with the
// Reporter's Read (examples/controller in Prometheus text on /metrics).
//
// It is a leaf adapter, like queue/ocmetrics and activator/ocmetrics: the controller
// does not import OpenCensus, so an importer on another metrics stack does not pay
// for it.
package ocmetrics

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.opencensus.io/metric/metricdata"
	"go.opencensus.io/stats"
	"go.opencensus.io/stats/view"
	"go.opencensus.io/tag"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/serving/controller"
)

// The controller's measures and tag keys.
var (
	mRequests  = stats.Int64("servekit/ingress/requests", "requests served by the ingress", stats.UnitDimensionless)
	mLatency   = stats.Float64("servekit/ingress/request_latencies", "ingress request latency", stats.UnitMilliseconds)
	mColdStart = stats.Float64("servekit/activator/cold_start_seconds", "time from the first request held for a revision at zero to its first ready pod", stats.UnitSeconds)

	keyNamespace = tag.MustNewKey("namespace")
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
	{Name: "servekit_cold_start_seconds", Description: mColdStart.Description(), Measure: mColdStart,
		TagKeys:     []tag.Key{keyNamespace, keyRevision},
		Aggregation: view.Distribution(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)},
}

// Views returns the views of the controller's measures, to register (view.Register)
// and to serve. Their names are the Prometheus metric names: servekit_requests_total,
// servekit_request_latencies_ms and servekit_cold_start_seconds. OpenCensus registers
// views by name: register them once per process. (The revision gauges are the
// Reporter's Read.)
func Views() []*view.View { return append([]*view.View(nil), views...) }

// The revision gauges Read returns: their names (the Prometheus metric names) and
// descriptions.
var gauges = []struct {
	name, desc string
	value      func(controller.RevisionReport) int64
}{
	{"servekit_desired_pods", "pods the autoscaler asked for", func(r controller.RevisionReport) int64 { return int64(r.DesiredPods) }},
	{"servekit_ready_pods", "ready pods", func(r controller.RevisionReport) int64 { return int64(r.ReadyPods) }},
	{"servekit_panic_mode", "1 while the autoscaler is in panic mode", func(r controller.RevisionReport) int64 { return b2i(r.Panic) }},
	{"servekit_activator_in_path", "1 while the activator is in the request path", func(r controller.RevisionReport) int64 { return b2i(r.ActivatorInPath) }},
	{"servekit_activator_queue_depth", "requests waiting in the activator", func(r controller.RevisionReport) int64 { return int64(r.QueueDepth) }},
}

func b2i(v bool) int64 {
	if v {
		return 1
	}
	return 0
}

// Reporter is a controller.Reporter that records the controller's requests and cold
// starts as OpenCensus measurements (nothing is recorded unless Views are
// registered) and keeps each revision's last report for Read. Its zero value is
// ready to use; use it by pointer.
type Reporter struct {
	mu sync.Mutex
	// revs holds each revision's last report; a deleted revision's is removed.
	revs map[types.NamespacedName]controller.RevisionReport
}

var _ controller.Reporter = (*Reporter)(nil)

// ReportRequest records one request through the ingress: a count by response code
// and path ("direct" or "activator"), and its latency.
func (*Reporter) ReportRequest(r controller.RequestReport) {
	path := "direct"
	if r.ViaActivator {
		path = "activator"
	}
	_ = stats.RecordWithTags(context.Background(), []tag.Mutator{
		tag.Upsert(keyNamespace, r.Namespace), tag.Upsert(keyRoute, r.Route), tag.Upsert(keyRevision, r.Revision),
		tag.Upsert(keyCode, strconv.Itoa(r.Code)), tag.Upsert(keyPath, path),
	}, mRequests.M(1), mLatency.M(float64(r.Latency)/float64(time.Millisecond)))
}

// ReportRevision keeps a revision's scale for Read: desired and ready pods, panic
// mode, whether the activator is in its path, and the activator's queue depth. A
// report with Deleted set removes the revision's series.
func (r *Reporter) ReportRevision(rep controller.RevisionReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rep.Deleted {
		delete(r.revs, rep.Key)
		return
	}
	if r.revs == nil {
		r.revs = map[types.NamespacedName]controller.RevisionReport{}
	}
	r.revs[rep.Key] = rep
}

// Read returns the revision gauges (servekit_desired_pods, servekit_ready_pods,
// servekit_panic_mode, servekit_activator_in_path and
// servekit_activator_queue_depth, labelled namespace, service and revision), one
// series per revision not deleted, as an OpenCensus metricproducer.Producer does.
func (r *Reporter) Read() []*metricdata.Metric {
	now := time.Now()
	r.mu.Lock()
	reps := make([]controller.RevisionReport, 0, len(r.revs))
	for _, rep := range r.revs {
		reps = append(reps, rep)
	}
	r.mu.Unlock()
	slices.SortFunc(reps, func(a, b controller.RevisionReport) int {
		if a.Key.Namespace != b.Key.Namespace {
			return cmpString(a.Key.Namespace, b.Key.Namespace)
		}
		return cmpString(a.Key.Name, b.Key.Name)
	})
	keys := []metricdata.LabelKey{{Key: "namespace"}, {Key: "service"}, {Key: "revision"}}
	out := make([]*metricdata.Metric, 0, len(gauges))
	for _, g := range gauges {
		m := &metricdata.Metric{
			Descriptor: metricdata.Descriptor{Name: g.name, Description: g.desc, Unit: metricdata.UnitDimensionless,
				Type: metricdata.TypeGaugeInt64, LabelKeys: keys},
			TimeSeries: make([]*metricdata.TimeSeries, 0, len(reps)),
		}
		for _, rep := range reps {
			m.TimeSeries = append(m.TimeSeries, &metricdata.TimeSeries{
				LabelValues: []metricdata.LabelValue{
					metricdata.NewLabelValue(rep.Key.Namespace), metricdata.NewLabelValue(rep.Service), metricdata.NewLabelValue(rep.Key.Name),
				},
				Points: []metricdata.Point{metricdata.NewInt64Point(now, g.value(rep))},
			})
		}
		out = append(out, m)
	}
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ReportColdStart records the time from the first request held for a revision at
// zero to its first ready pod.
func (*Reporter) ReportColdStart(key types.NamespacedName, d time.Duration) {
	_ = stats.RecordWithTags(context.Background(), []tag.Mutator{
		tag.Upsert(keyNamespace, key.Namespace), tag.Upsert(keyRevision, key.Name),
	}, mColdStart.M(d.Seconds()))
}
