package promtext

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opencensus.io/stats"
	"go.opencensus.io/stats/view"
	"go.opencensus.io/tag"
)

func TestWriteAllAggregations(t *testing.T) {
	rev := tag.MustNewKey("revision")
	reqs := stats.Int64("promtext_test/requests", "Requests served", stats.UnitDimensionless)
	lat := stats.Float64("promtext_test/latency", "Request latency", stats.UnitMilliseconds)
	pods := stats.Int64("promtext_test/pods", "Ready pods", stats.UnitDimensionless)
	views := []*view.View{
		{Name: "promtext_test/request_count", Measure: reqs, Aggregation: view.Count(), TagKeys: []tag.Key{rev}},
		{Name: "promtext_test/request_bytes", Description: "Sum of \"requests\"", Measure: reqs, Aggregation: view.Sum()},
		{Name: "promtext_test/latency", Measure: lat, Aggregation: view.Distribution(10, 100), TagKeys: []tag.Key{rev}},
		{Name: "promtext_test/ready_pods", Measure: pods, Aggregation: view.LastValue(), TagKeys: []tag.Key{rev}},
	}
	if err := view.Register(views...); err != nil {
		t.Fatal(err)
	}
	defer view.Unregister(views...)

	ctxA, _ := tag.New(context.Background(), tag.Upsert(rev, "hello-00001"))
	ctxB, _ := tag.New(context.Background(), tag.Upsert(rev, `odd"name`))
	stats.Record(ctxA, reqs.M(2), lat.M(5), pods.M(3))
	stats.Record(ctxA, reqs.M(3), lat.M(50))
	stats.Record(ctxB, reqs.M(1), lat.M(500), pods.M(1))

	// view data is aggregated by a background worker; RetrieveData waits for it.
	var b strings.Builder
	if err := Write(&b, views...); err != nil {
		t.Fatal(err)
	}
	want := `# HELP promtext_test_request_count Requests served
# TYPE promtext_test_request_count counter
promtext_test_request_count{revision="hello-00001"} 2
promtext_test_request_count{revision="odd\"name"} 1
# HELP promtext_test_request_bytes Sum of "requests"
# TYPE promtext_test_request_bytes counter
promtext_test_request_bytes 6
# HELP promtext_test_latency Request latency
# TYPE promtext_test_latency histogram
promtext_test_latency_bucket{revision="hello-00001",le="10"} 1
promtext_test_latency_bucket{revision="hello-00001",le="100"} 2
promtext_test_latency_bucket{revision="hello-00001",le="+Inf"} 2
promtext_test_latency_sum{revision="hello-00001"} 55
promtext_test_latency_count{revision="hello-00001"} 2
promtext_test_latency_bucket{revision="odd\"name",le="10"} 0
promtext_test_latency_bucket{revision="odd\"name",le="100"} 0
promtext_test_latency_bucket{revision="odd\"name",le="+Inf"} 1
promtext_test_latency_sum{revision="odd\"name"} 500
promtext_test_latency_count{revision="odd\"name"} 1
# HELP promtext_test_ready_pods Ready pods
# TYPE promtext_test_ready_pods gauge
promtext_test_ready_pods{revision="hello-00001"} 3
promtext_test_ready_pods{revision="odd\"name"} 1
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("Write() (-want +got):\n%s", diff)
	}
}

func TestHandler(t *testing.T) {
	m := stats.Int64("promtext_test/handler", "h", stats.UnitDimensionless)
	v := &view.View{Name: "promtext_test/handler_count", Measure: m, Aggregation: view.Count()}
	unregistered := &view.View{Name: "promtext_test/never_registered", Measure: m, Aggregation: view.Count()}
	if err := view.Register(v); err != nil {
		t.Fatal(err)
	}
	defer view.Unregister(v)
	stats.Record(context.Background(), m.M(1))

	h := Handler(v, unregistered)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if got := rec.Header().Get("Content-Type"); got != ContentType {
		t.Errorf("Content-Type = %q, want %q", got, ContentType)
	}
	if want := "promtext_test_handler_count 1\n"; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("body %q does not contain %q", rec.Body.String(), want)
	}
	if strings.Contains(rec.Body.String(), "never_registered") {
		t.Errorf("body %q reports a view that is not registered", rec.Body.String())
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/metrics", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST status = %d, want %d", rec.Code, http.StatusMethodNotAllowed)
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"servekit/queue/request_count": "servekit_queue_request_count",
		"9lives":                       "_9lives",
		"ok_name:sub":                  "ok_name:sub",
		"":                             "_",
		"héllo":                        "h_llo",
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}
