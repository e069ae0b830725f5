package ocmetrics_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opencensus.io/stats/view"
	"go.uber.org/goleak"

	"github.com/servekit/servekit/queue"
	"github.com/servekit/servekit/queue/ocmetrics"
)

func TestMain(m *testing.M) {
	// OpenCensus starts its view worker when the view package is loaded.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

func TestReporter(t *testing.T) {
	r := ocmetrics.New()
	if err := view.Register(r.Views()...); err != nil {
		t.Fatal(err)
	}
	defer view.Unregister(r.Views()...)

	r.ReportRequest(queue.RequestReport{Code: 200, Latency: 20 * time.Millisecond, BreakerWait: 5 * time.Millisecond, QueueDepth: 3})
	r.ReportRequest(queue.RequestReport{Code: 200, Latency: 40 * time.Millisecond, QueueDepth: 1, Proxied: true})
	// The tags of a code already seen come from the reporter's cache; 0 (nothing
	// written) and codes outside 100–599 are class 0xx.
	r.ReportRequest(queue.RequestReport{Code: 200, Latency: 10 * time.Millisecond, QueueDepth: 2})
	r.ReportRequest(queue.RequestReport{Code: 0, Latency: time.Millisecond})
	r.ReportRequest(queue.RequestReport{Code: 0, Latency: time.Millisecond, Proxied: true})
	r.ReportRequest(queue.RequestReport{Code: 0, Latency: time.Millisecond, Proxied: true})
	r.ReportRequest(queue.RequestReport{Code: 700, Latency: time.Millisecond})
	r.ReportRequest(queue.RequestReport{Code: 503, Latency: time.Millisecond, QueueDepth: 22})

	counts := map[string]int64{}
	rows, err := view.RetrieveData(ocmetrics.RequestCountName)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		key := ""
		for _, tg := range row.Tags {
			key += tg.Key.Name() + "=" + tg.Value + " "
		}
		counts[key] = row.Data.(*view.CountData).Value
	}
	want := map[string]int64{
		"proxied=false response_code=200 response_code_class=2xx ": 2,
		"proxied=true response_code=200 response_code_class=2xx ":  1,
		"proxied=false response_code=0 response_code_class=0xx ":   1,
		"proxied=true response_code=0 response_code_class=0xx ":    2,
		"proxied=false response_code=700 response_code_class=0xx ": 1,
		"proxied=false response_code=503 response_code_class=5xx ": 1,
	}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("request counts (-want +got):\n%s", diff)
	}

	rows, err = view.RetrieveData(ocmetrics.QueueDepthName)
	if err != nil || len(rows) != 1 {
		t.Fatalf("queue depth rows = %v, %v", rows, err)
	}
	if got := rows[0].Data.(*view.LastValueData).Value; got != 22 {
		t.Errorf("queue depth = %v, want 22", got)
	}
	rows, err = view.RetrieveData(ocmetrics.BreakerWaitName)
	if err != nil || len(rows) != 1 {
		t.Fatalf("breaker wait rows = %v, %v", rows, err)
	}
	d := rows[0].Data.(*view.DistributionData)
	if d.Count != 8 || d.Max != 5 {
		t.Errorf("breaker wait count %d max %v, want 8 and 5 ms", d.Count, d.Max)
	}
}

func BenchmarkReportRequest(b *testing.B) {
	r := ocmetrics.New()
	if err := view.Register(r.Views()...); err != nil {
		b.Fatal(err)
	}
	defer view.Unregister(r.Views()...)
	rr := queue.RequestReport{Code: 200, Latency: 3 * time.Millisecond, QueueDepth: 1}
	b.ReportAllocs()
	for b.Loop() {
		r.ReportRequest(rr)
	}
}

func TestReportDrain(t *testing.T) {
	r := ocmetrics.New()
	if err := view.Register(r.Views()...); err != nil {
		t.Fatal(err)
	}
	defer view.Unregister(r.Views()...)

	r.ReportDrain(queue.DrainReport{Websocket: 2, HTTP2: 1})
	r.ReportDrain(queue.DrainReport{Websocket: 1, HTTP1: 4})

	rows, err := view.RetrieveData(ocmetrics.DrainStreamsClosedName)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, row := range rows {
		for _, tg := range row.Tags {
			got[tg.Key.Name()+"="+tg.Value] = row.Data.(*view.SumData).Value
		}
	}
	want := map[string]float64{"kind=websocket": 3, "kind=http2": 1, "kind=http1": 4}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("streams closed at drain deadlines (-want +got):\n%s", diff)
	}
}
