package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/controller/ocmetrics"
)

// /metrics stops listing a revision once the controller reports it deleted
// (issue 17: a deleted revision kept reporting ready_pods 1).
func TestMetricsForgetDeletedRevision(t *testing.T) {
	reporter := &ocmetrics.Reporter{}
	h, err := metricsHandler(reporter)
	if err != nil {
		t.Fatal(err)
	}
	scrape := func() string {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		body, _ := io.ReadAll(rec.Body)
		return string(body)
	}
	one := types.NamespacedName{Namespace: "default", Name: "hello-00001"}
	two := types.NamespacedName{Namespace: "default", Name: "hello-00002"}
	reporter.ReportRevision(controller.RevisionReport{Key: one, Service: "hello", DesiredPods: 1, ReadyPods: 1})
	reporter.ReportRevision(controller.RevisionReport{Key: two, Service: "hello", DesiredPods: 2, ReadyPods: 2})
	for _, line := range []string{
		"# TYPE servekit_ready_pods gauge\n",
		`servekit_ready_pods{namespace="default",revision="hello-00001",service="hello"} 1` + "\n",
		`servekit_ready_pods{namespace="default",revision="hello-00002",service="hello"} 2` + "\n",
		`servekit_desired_pods{namespace="default",revision="hello-00001",service="hello"} 1` + "\n",
	} {
		if got := scrape(); !strings.Contains(got, line) {
			t.Errorf("/metrics lacks %q:\n%s", line, got)
		}
	}
	reporter.ReportRevision(controller.RevisionReport{Key: one, Service: "hello", Deleted: true})
	got := scrape()
	if strings.Contains(got, `revision="hello-00001"`) {
		t.Errorf("/metrics still lists the deleted hello-00001:\n%s", got)
	}
	if !strings.Contains(got, `servekit_ready_pods{namespace="default",revision="hello-00002",service="hello"} 2`) {
		t.Errorf("/metrics lost hello-00002:\n%s", got)
	}
}
