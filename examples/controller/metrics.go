package main

import actocm "github.com/servekit/servekit/activator/ocmetrics"

// activatorMetrics are the activator's own measures and views (queue wait,
// rejections, cold start). One set per process: OpenCensus registers views by name.
var activatorMetrics = actocm.New("servekit_activator")
