// Package ocmetrics reports the autoscaler's per-revision decisions to
// OpenCensus: an autoscaler.Reporter recording gauges after Knative's
// autoscaler metrics (desired, requested and ready pods, the stable and panic
// averages of the scaling metric, panic mode, excess burst capacity), and the
// views a binary registers to export them.
//
// It is a leaf adapter: package autoscaler does not import OpenCensus, so an
// importer on another metrics stack does not pay for it.
package ocmetrics

import (
	"context"

	"go.opencensus.io/stats"
	"go.opencensus.io/stats/view"
	"go.opencensus.io/tag"

	"github.com/servekit/servekit/autoscaler"
)

// Metric names (Prometheus replaces the dots with underscores). They mirror
// Knative's autoscaler metrics.
const (
	DesiredPodsName         = "servekit.autoscaler.desired_pods"
	RequestedPodsName       = "servekit.autoscaler.requested_pods"
	ReadyPodsName           = "servekit.autoscaler.actual_pods"
	StableValueName         = "servekit.autoscaler.stable_metric_value"
	PanicValueName          = "servekit.autoscaler.panic_metric_value"
	PanicModeName           = "servekit.autoscaler.panic_mode"
	ExcessBurstCapacityName = "servekit.autoscaler.excess_burst_capacity"
)

// Reporter is an autoscaler.Reporter recording into OpenCensus. Create it
// with New; register its Views for anything to be exported.
type Reporter struct {
	desired, requested, ready, panicMode, ebc *stats.Int64Measure
	stable, panic                             *stats.Float64Measure
	metricKey, nsKey, revKey                  tag.Key
	views                                     []*view.View
}

var _ autoscaler.Reporter = (*Reporter)(nil)

// New returns a Reporter. OpenCensus keeps measures and views by name, so two
// Reporters share them.
func New() *Reporter {
	r := &Reporter{
		desired:   stats.Int64(DesiredPodsName, "Pods the decider wants", stats.UnitDimensionless),
		requested: stats.Int64(RequestedPodsName, "Replicas applied after bounds and scale-to-zero gating", stats.UnitDimensionless),
		ready:     stats.Int64(ReadyPodsName, "Ready pods the decider saw", stats.UnitDimensionless),
		panicMode: stats.Int64(PanicModeName, "1 while the decider is in panic mode", stats.UnitDimensionless),
		ebc:       stats.Int64(ExcessBurstCapacityName, "Excess burst capacity; negative keeps the activator in the path", stats.UnitDimensionless),
		stable:    stats.Float64(StableValueName, "Stable-window average of the scaling metric", stats.UnitDimensionless),
		panic:     stats.Float64(PanicValueName, "Panic-window average of the scaling metric", stats.UnitDimensionless),
		metricKey: tag.MustNewKey("metric"),
		nsKey:     tag.MustNewKey("namespace_name"),
		revKey:    tag.MustNewKey("revision_name"),
	}
	keys := []tag.Key{r.nsKey, r.revKey}
	mkeys := []tag.Key{r.nsKey, r.revKey, r.metricKey}
	gauge := func(name string, m stats.Measure, k []tag.Key) *view.View {
		return &view.View{Name: name, Measure: m, Description: m.Description(), Aggregation: view.LastValue(), TagKeys: k}
	}
	r.views = []*view.View{
		gauge(DesiredPodsName, r.desired, keys),
		gauge(RequestedPodsName, r.requested, keys),
		gauge(ReadyPodsName, r.ready, keys),
		gauge(PanicModeName, r.panicMode, keys),
		gauge(ExcessBurstCapacityName, r.ebc, keys),
		gauge(StableValueName, r.stable, mkeys),
		gauge(PanicValueName, r.panic, mkeys),
	}
	return r
}

// Views returns the views to register: one last-value gauge per measure,
// tagged namespace_name and revision_name (and metric — "concurrency" or
// "rps" — for the window averages).
func (r *Reporter) Views() []*view.View { return r.views }

// ReportTick records one tick. Invalid ticks (no data) record only the
// ready and requested pods.
func (r *Reporter) ReportTick(t autoscaler.TickReport) {
	o, d, res := t.Observation, t.Decision, t.Result
	ctx, err := tag.New(context.Background(), tag.Upsert(r.nsKey, t.Key.Namespace), tag.Upsert(r.revKey, t.Key.Name))
	if err != nil {
		return // a name that is not a valid tag value: nothing to record under
	}
	stats.Record(ctx, r.ready.M(int64(o.ReadyPods)), r.requested.M(int64(res.Replicas)))
	if !d.Valid {
		return
	}
	pm := int64(0)
	if d.Panic {
		pm = 1
	}
	stats.Record(ctx, r.desired.M(int64(d.DesiredPodCount)), r.ebc.M(int64(d.ExcessBurstCapacity)), r.panicMode.M(pm))
	metric := t.Metric
	if metric == "" {
		metric = autoscaler.MetricConcurrency
	}
	_ = stats.RecordWithTags(ctx, []tag.Mutator{tag.Upsert(r.metricKey, metric)}, r.stable.M(o.Stable), r.panic.M(o.Panic))
}
