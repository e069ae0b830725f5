package autoscaler

import "github.com/servekit/servekit/autoscaler/metrics"

// Stat is one metric report: the per-second stat of package metrics (Knative's
// protobuf message knative.dev/serving/pkg/autoscaler/metrics.Stat), which queue
// proxies and activators send and the collector records. It is an alias, so a
// caller of the autoscaler need not import metrics and both names are one type.
type Stat = metrics.Stat

// ErrBadStat wraps every Stat decoding error; it is [metrics.ErrBadStat].
var ErrBadStat = metrics.ErrBadStat
