package ocmetrics

import (
	"testing"
	"time"

	"go.opencensus.io/stats/view"
	"go.uber.org/goleak"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler"
)

func TestMain(m *testing.M) {
	// Importing view starts OpenCensus's worker goroutine.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

func lastValue(t *testing.T, name string, tags map[string]string) (float64, bool) {
	t.Helper()
	rows, err := view.RetrieveData(name)
	if err != nil {
		t.Fatalf("RetrieveData(%s): %v", name, err)
	}
	for _, r := range rows {
		match := true
		for _, tg := range r.Tags {
			if want, ok := tags[tg.Key.Name()]; ok && want != tg.Value {
				match = false
			}
		}
		if lv, ok := r.Data.(*view.LastValueData); ok && match {
			return lv.Value, true
		}
	}
	return 0, false
}

func TestReporter(t *testing.T) {
	r := New()
	if err := view.Register(r.Views()...); err != nil {
		t.Fatal(err)
	}
	defer view.Unregister(r.Views()...)

	key := types.NamespacedName{Namespace: "default", Name: "hello-00001"}
	r.ReportTick(autoscaler.TickReport{
		Key: key, Now: time.Unix(2, 0), Metric: autoscaler.MetricRPS,
		Observation: autoscaler.Observation{ReadyPods: 2, Stable: 30, Panic: 45},
		Decision:    autoscaler.Decision{DesiredPodCount: 3, ExcessBurstCapacity: -56, Panic: true, Valid: true},
		Result:      autoscaler.ScaleResult{Replicas: 3},
	})
	tags := map[string]string{"namespace_name": "default", "revision_name": "hello-00001", "metric": "rps"}
	for _, tc := range []struct {
		name string
		want float64
	}{
		{DesiredPodsName, 3}, {RequestedPodsName, 3}, {ReadyPodsName, 2}, {PanicModeName, 1},
		{ExcessBurstCapacityName, -56}, {StableValueName, 30}, {PanicValueName, 45},
	} {
		got, ok := lastValue(t, tc.name, tags)
		if !ok || got != tc.want {
			t.Errorf("%s = %v (found %v), want %v", tc.name, got, ok, tc.want)
		}
	}

	// An invalid tick updates only the pod counts.
	r.ReportTick(autoscaler.TickReport{Key: key, Observation: autoscaler.Observation{ReadyPods: 3, NoData: true},
		Decision: autoscaler.Decision{DesiredPodCount: 9}, Result: autoscaler.ScaleResult{Replicas: 4}})
	if got, _ := lastValue(t, DesiredPodsName, tags); got != 3 {
		t.Errorf("desired after an invalid tick = %v, want 3 (unchanged)", got)
	}
	if got, _ := lastValue(t, RequestedPodsName, tags); got != 4 {
		t.Errorf("requested after an invalid tick = %v, want 4", got)
	}
}
