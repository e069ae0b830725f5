package ocmetrics_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opencensus.io/stats/view"

	"github.com/servekit/servekit/activator"
	"github.com/servekit/servekit/activator/ocmetrics"
)

func TestHooksRecord(t *testing.T) {
	m := ocmetrics.New("test")
	if err := view.Register(m.Views()...); err != nil {
		t.Fatal(err)
	}
	defer view.Unregister(m.Views()...)
	h := m.Hooks()
	k := activator.RevisionKey{Namespace: "default", Name: "hello-00001"}
	h.ColdStart(k, 1500*time.Millisecond)
	h.QueueWait(k, 2*time.Millisecond)
	h.QueueWait(k, 3*time.Millisecond)
	h.Rejected(k, activator.ReasonQueueFull)

	got := map[string]float64{}
	for _, v := range m.Views() {
		rows, err := view.RetrieveData(v.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			name := v.Name
			for _, tg := range r.Tags {
				name += " " + tg.Key.Name() + "=" + tg.Value
			}
			switch d := r.Data.(type) {
			case *view.DistributionData:
				got[name+" count"] = float64(d.Count)
				got[name+" sum"] = d.Sum()
			case *view.CountData:
				got[name] = float64(d.Value)
			}
		}
	}
	want := map[string]float64{
		"test_cold_start_latency_ms namespace_name=default revision_name=hello-00001 count":               1,
		"test_cold_start_latency_ms namespace_name=default revision_name=hello-00001 sum":                 1500,
		"test_queue_wait_ms namespace_name=default revision_name=hello-00001 count":                       2,
		"test_queue_wait_ms namespace_name=default revision_name=hello-00001 sum":                         5,
		"test_rejected_requests_total namespace_name=default reason=queue-full revision_name=hello-00001": 1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("recorded (-want +got):\n%s", diff)
	}
}
