// Package ocmetrics reports the queue proxy's requests to OpenCensus: a
// queue.Reporter that records request count, latency, breaker queue depth and the
// time spent waiting in the breaker, and the views a binary registers to export them
// (examples/queue-proxy serves them in Prometheus text on /metrics).
//
// It is a leaf adapter: package queue does not import OpenCensus, so an importer on
// another metrics stack does not pay for it (design.md, Observability).
package ocmetrics

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"go.opencensus.io/stats"
	"go.opencensus.io/stats/view"
	"go.opencensus.io/tag"

	"github.com/servekit/servekit/queue"
)

// Metric names (Prometheus replaces the dots with underscores).
const (
	RequestCountName   = "servekit.queue.request_count"
	RequestLatencyName = "servekit.queue.request_latencies"
	QueueDepthName     = "servekit.queue.depth"
	BreakerWaitName    = "servekit.queue.breaker_wait"
	// DrainStreamsClosedName counts the streams closed at the drain's stream
	// deadline, by kind (websocket, http2, http1): Prometheus
	// servekit_queue_drain_streams_closed_total.
	DrainStreamsClosedName = "servekit.queue.drain_streams_closed_total"
)

// Reporter is a queue.Reporter that records into OpenCensus. Create it with New.
type Reporter struct {
	count   *stats.Int64Measure
	latency *stats.Float64Measure
	depth   *stats.Int64Measure
	wait    *stats.Float64Measure
	closed  *stats.Int64Measure

	codeKey, classKey, proxiedKey, kindKey tag.Key
	views                                  []*view.View

	// tagged caches, per status code (0 and 100–599) and proxied, a context
	// carrying the three tags: building the tag map took 9 of the ~100 allocations
	// of a proxied request (issue 16's profile). Filled lazily; two racing
	// requests may both build an entry, and either is correct.
	tagged [2][600]atomic.Pointer[context.Context]
}

var (
	_ queue.Reporter      = (*Reporter)(nil)
	_ queue.DrainReporter = (*Reporter)(nil)
)

// latencyBuckets are milliseconds, from 5 ms to 10 minutes (the revision timeout).
var latencyBuckets = []float64{5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000, 300000, 600000}

// New returns a Reporter. Its Views must be registered (view.Register) for anything
// to be recorded; OpenCensus keeps measures and views by name, so two Reporters share
// them.
func New() *Reporter {
	r := &Reporter{
		count:      stats.Int64(RequestCountName, "Requests that reached the queue proxy's proxying path", stats.UnitDimensionless),
		latency:    stats.Float64(RequestLatencyName, "Time from arrival to the end of the response", stats.UnitMilliseconds),
		depth:      stats.Int64(QueueDepthName, "Requests in the breaker, waiting or running, seen by an arriving request", stats.UnitDimensionless),
		wait:       stats.Float64(BreakerWaitName, "Time spent waiting for a slot in the breaker", stats.UnitMilliseconds),
		closed:     stats.Int64(DrainStreamsClosedName, "Streams closed at the drain's stream deadline", stats.UnitDimensionless),
		kindKey:    tag.MustNewKey("kind"),
		codeKey:    tag.MustNewKey("response_code"),
		classKey:   tag.MustNewKey("response_code_class"),
		proxiedKey: tag.MustNewKey("proxied"),
	}
	keys := []tag.Key{r.codeKey, r.classKey, r.proxiedKey}
	r.views = []*view.View{
		{Name: RequestCountName, Measure: r.count, Description: r.count.Description(), Aggregation: view.Count(), TagKeys: keys},
		{Name: RequestLatencyName, Measure: r.latency, Description: r.latency.Description(), Aggregation: view.Distribution(latencyBuckets...), TagKeys: keys},
		{Name: QueueDepthName, Measure: r.depth, Description: r.depth.Description(), Aggregation: view.LastValue()},
		{Name: BreakerWaitName, Measure: r.wait, Description: r.wait.Description(), Aggregation: view.Distribution(latencyBuckets...)},
		{Name: DrainStreamsClosedName, Measure: r.closed, Description: r.closed.Description(), Aggregation: view.Sum(), TagKeys: []tag.Key{r.kindKey}},
	}
	return r
}

// Views returns the views to register: request count and latency by response code
// and proxied, the latest queue depth, the breaker wait distribution and the streams
// closed at drain deadlines by kind.
func (r *Reporter) Views() []*view.View { return r.views }

// ReportRequest records one request.
func (r *Reporter) ReportRequest(rr queue.RequestReport) {
	// One record (one hand-off to OpenCensus' worker) for all four; the depth and
	// wait views have no tag keys, so the tags do not split them.
	stats.Record(r.tags(rr.Code, rr.Proxied),
		r.count.M(1),
		r.latency.M(ms(rr.Latency)),
		r.depth.M(int64(rr.QueueDepth)),
		r.wait.M(ms(rr.BreakerWait)),
	)
}

// tags returns a context carrying the tags of a request with status code and
// proxied: response_code, response_code_class ("2xx", or "0xx" for a code outside
// 100–599) and proxied.
func (r *Reporter) tags(code int, proxied bool) context.Context {
	var slot *atomic.Pointer[context.Context]
	if code == 0 || code >= 100 && code <= 599 {
		p := 0
		if proxied {
			p = 1
		}
		slot = &r.tagged[p][code]
		if ctx := slot.Load(); ctx != nil {
			return *ctx
		}
	}
	class := "0xx"
	if code >= 100 && code <= 599 {
		class = strconv.Itoa(code/100) + "xx"
	}
	ctx, err := tag.New(context.Background(),
		tag.Upsert(r.codeKey, strconv.Itoa(code)),
		tag.Upsert(r.classKey, class),
		tag.Upsert(r.proxiedKey, strconv.FormatBool(proxied)),
	)
	if err != nil {
		// Only invalid keys or values fail, and these are fixed ASCII: a bug.
		panic("ocmetrics: tagging a request: " + err.Error())
	}
	if slot != nil {
		slot.Store(&ctx)
	}
	return ctx
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ReportDrain records the streams a drain closed at its stream deadline, by kind
// (websocket, http2, http1); kinds with none are recorded as 0, so every kind's
// series exists after a drain.
func (r *Reporter) ReportDrain(d queue.DrainReport) {
	for _, k := range [...]struct {
		kind string
		n    int
	}{{"websocket", d.Websocket}, {"http2", d.HTTP2}, {"http1", d.HTTP1}} {
		_ = stats.RecordWithTags(context.Background(), []tag.Mutator{tag.Upsert(r.kindKey, k.kind)}, r.closed.M(int64(k.n)))
	}
}
