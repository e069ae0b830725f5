// Package ocmetrics turns the activator's Hooks into OpenCensus measurements: the
// cold-start time and queue wait as histograms and the rejections as a counter, each
// tagged with the revision. Binaries register Views() and serve them (for example in
// Prometheus text); the activator package itself stays free of OpenCensus.
package ocmetrics

import (
	"context"
	"time"

	"go.opencensus.io/stats"
	"go.opencensus.io/stats/view"
	"go.opencensus.io/tag"

	"github.com/servekit/servekit/activator"
)

// Tag keys.
var (
	namespaceKey = tag.MustNewKey("namespace_name")
	revisionKey  = tag.MustNewKey("revision_name")
	reasonKey    = tag.MustNewKey("reason")
)

// Metrics holds the measures and their views. Create it with New; a process creates
// one and registers its Views once.
type Metrics struct {
	coldStart *stats.Float64Measure
	queueWait *stats.Float64Measure
	rejected  *stats.Int64Measure
	views     []*view.View
}

// latencyBuckets (milliseconds) span a warm queue wait to a slow cold start.
var latencyBuckets = []float64{1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000}

// New returns the activator's measures and views. Names are prefixed by prefix
// (e.g. "activator").
func New(prefix string) *Metrics {
	m := &Metrics{
		coldStart: stats.Float64(prefix+"/cold_start_latency", "Time from the first request held for a revision without pods to its first ready pod", stats.UnitMilliseconds),
		queueWait: stats.Float64(prefix+"/queue_wait", "Time a request waited in the activator before it was sent to a pod", stats.UnitMilliseconds),
		rejected:  stats.Int64(prefix+"/rejected_requests", "Requests answered by the activator without reaching a pod", stats.UnitDimensionless),
	}
	m.views = []*view.View{
		{Name: prefix + "_cold_start_latency_ms", Measure: m.coldStart, Description: m.coldStart.Description(), TagKeys: []tag.Key{namespaceKey, revisionKey}, Aggregation: view.Distribution(latencyBuckets...)},
		{Name: prefix + "_queue_wait_ms", Measure: m.queueWait, Description: m.queueWait.Description(), TagKeys: []tag.Key{namespaceKey, revisionKey}, Aggregation: view.Distribution(latencyBuckets...)},
		{Name: prefix + "_rejected_requests_total", Measure: m.rejected, Description: m.rejected.Description(), TagKeys: []tag.Key{namespaceKey, revisionKey, reasonKey}, Aggregation: view.Count()},
	}
	return m
}

// Views returns the views to register (view.Register) and to serve.
func (m *Metrics) Views() []*view.View { return append([]*view.View(nil), m.views...) }

// Hooks returns activator.Hooks that record into m's measures.
func (m *Metrics) Hooks() activator.Hooks {
	return activator.Hooks{
		ColdStart: func(k activator.RevisionKey, d time.Duration) { m.record(k, "", m.coldStart.M(ms(d))) },
		QueueWait: func(k activator.RevisionKey, d time.Duration) { m.record(k, "", m.queueWait.M(ms(d))) },
		Rejected:  func(k activator.RevisionKey, reason string) { m.record(k, reason, m.rejected.M(1)) },
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (m *Metrics) record(k activator.RevisionKey, reason string, meas stats.Measurement) {
	mut := []tag.Mutator{tag.Upsert(namespaceKey, k.Namespace), tag.Upsert(revisionKey, k.Name)}
	if reason != "" {
		mut = append(mut, tag.Upsert(reasonKey, reason))
	}
	_ = stats.RecordWithTags(context.Background(), mut, meas) // only fails on invalid tag values
}
