package main

import (
	"fmt"
	"net/http"

	"go.opencensus.io/stats/view"

	actocm "github.com/servekit/servekit/activator/ocmetrics"
	"github.com/servekit/servekit/examples/internal/promtext"
	"github.com/servekit/servekit/serving/controller/ocmetrics"
)

// activatorMetrics are the activator's own measures and views (queue wait,
// rejections, cold start). One set per process: OpenCensus registers views by name.
var activatorMetrics = actocm.New("servekit_activator")

// metricsHandler registers the controller's and the activator's views (OpenCensus
// lives here, in the binary, and in the ocmetrics adapters) and returns the /metrics
// handler that serves them, and reporter's revision gauges, in Prometheus text.
func metricsHandler(reporter *ocmetrics.Reporter) (http.Handler, error) {
	views := append(ocmetrics.Views(), activatorMetrics.Views()...)
	if err := view.Register(views...); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return promtext.HandlerFor([]promtext.Producer{reporter}, views...), nil
}
