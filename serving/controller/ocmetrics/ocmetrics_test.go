package ocmetrics_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opencensus.io/stats/view"
	"go.uber.org/goleak"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/controller/ocmetrics"
)

func TestMain(m *testing.M) {
	// OpenCensus starts its view worker when the view package is loaded.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

// rows returns the rows of view name as "tag=value ...: data" lines, sorted.
func rows(t *testing.T, name string) []string {
	t.Helper()
	rs, err := view.RetrieveData(name)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		var tags []string
		for _, tg := range r.Tags {
			tags = append(tags, tg.Key.Name()+"="+tg.Value)
		}
		var v string
		switch d := r.Data.(type) {
		case *view.CountData:
			v = fmt.Sprint(d.Value)
		case *view.LastValueData:
			v = fmt.Sprint(d.Value)
		case *view.DistributionData:
			v = fmt.Sprintf("n=%d max=%v", d.Count, d.Max)
		}
		out = append(out, strings.Join(tags, " ")+": "+v)
	}
	sort.Strings(out)
	return out
}

func TestReporter(t *testing.T) {
	if err := view.Register(ocmetrics.Views()...); err != nil {
		t.Fatal(err)
	}
	defer view.Unregister(ocmetrics.Views()...)
	r := &ocmetrics.Reporter{}
	r.ReportRequest(controller.RequestReport{Namespace: "default", Route: "hello", Revision: "hello-00001", Code: 200, Latency: 20 * time.Millisecond})
	r.ReportRequest(controller.RequestReport{Namespace: "default", Route: "hello", Revision: "hello-00001", Code: 200, Latency: 40 * time.Millisecond, ViaActivator: true})
	r.ReportRevision(controller.RevisionReport{Key: types.NamespacedName{Namespace: "default", Name: "hello-00001"}, Service: "hello",
		DesiredPods: 3, ReadyPods: 2, Panic: true, QueueDepth: 4})
	r.ReportColdStart(types.NamespacedName{Namespace: "default", Name: "hello-00001"}, 1500*time.Millisecond)

	for _, tc := range []struct {
		view string
		want []string
	}{
		{"servekit_requests_total", []string{
			"namespace=default path=activator response_code=200 revision=hello-00001 route=hello: 1",
			"namespace=default path=direct response_code=200 revision=hello-00001 route=hello: 1",
		}},
		{"servekit_request_latencies_ms", []string{"namespace=default revision=hello-00001 route=hello: n=2 max=40"}},
		{"servekit_cold_start_seconds", []string{"namespace=default revision=hello-00001: n=1 max=1.5"}},
	} {
		if diff := cmp.Diff(tc.want, rows(t, tc.view)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.view, diff)
		}
	}
}

// gauges returns what Read holds as "metric namespace/service/revision: value"
// lines, sorted.
func gauges(r *ocmetrics.Reporter) []string {
	var out []string
	for _, m := range r.Read() {
		for _, ts := range m.TimeSeries {
			v := ts.Points[0].Value.(int64)
			out = append(out, fmt.Sprintf("%s %s/%s/%s: %d", m.Descriptor.Name,
				ts.LabelValues[0].Value, ts.LabelValues[1].Value, ts.LabelValues[2].Value, v))
		}
	}
	sort.Strings(out)
	return out
}

// The revision gauges hold each revision's last report, and a deleted revision's
// series go with it (issue 17: a deleted revision kept reporting ready_pods 1).
func TestRevisionGaugesGoWithTheirRevision(t *testing.T) {
	r := &ocmetrics.Reporter{}
	one := types.NamespacedName{Namespace: "default", Name: "hello-00001"}
	two := types.NamespacedName{Namespace: "default", Name: "hello-00002"}
	r.ReportRevision(controller.RevisionReport{Key: one, Service: "hello", DesiredPods: 1, ReadyPods: 1})
	r.ReportRevision(controller.RevisionReport{Key: two, Service: "hello", DesiredPods: 3, ReadyPods: 2, Panic: true, QueueDepth: 4})
	r.ReportRevision(controller.RevisionReport{Key: one, Service: "hello", DesiredPods: 1, ReadyPods: 1, ActivatorInPath: true})
	want := []string{
		"servekit_activator_in_path default/hello/hello-00001: 1",
		"servekit_activator_in_path default/hello/hello-00002: 0",
		"servekit_activator_queue_depth default/hello/hello-00001: 0",
		"servekit_activator_queue_depth default/hello/hello-00002: 4",
		"servekit_desired_pods default/hello/hello-00001: 1",
		"servekit_desired_pods default/hello/hello-00002: 3",
		"servekit_panic_mode default/hello/hello-00001: 0",
		"servekit_panic_mode default/hello/hello-00002: 1",
		"servekit_ready_pods default/hello/hello-00001: 1",
		"servekit_ready_pods default/hello/hello-00002: 2",
	}
	if diff := cmp.Diff(want, gauges(r)); diff != "" {
		t.Errorf("gauges (-want +got):\n%s", diff)
	}
	r.ReportRevision(controller.RevisionReport{Key: one, Service: "hello", Deleted: true})
	want = []string{
		"servekit_activator_in_path default/hello/hello-00002: 0",
		"servekit_activator_queue_depth default/hello/hello-00002: 4",
		"servekit_desired_pods default/hello/hello-00002: 3",
		"servekit_panic_mode default/hello/hello-00002: 1",
		"servekit_ready_pods default/hello/hello-00002: 2",
	}
	if diff := cmp.Diff(want, gauges(r)); diff != "" {
		t.Errorf("gauges after hello-00001 is deleted (-want +got):\n%s", diff)
	}
}
