package local

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler/metrics"
	"github.com/servekit/servekit/serving/runtime"
	v1 "github.com/servekit/servekit/serving/v1"
)

// Backend adapts a Runtime to runtime.Backend.
type Backend struct{ *Runtime }

var _ runtime.Backend = Backend{}

// Run runs the runtime (see Runtime.Run).
func (b Backend) Run(ctx context.Context, notify func(types.NamespacedName)) error {
	return b.Runtime.Run(ctx, notify)
}

// Apply records a revision (see Runtime.Apply).
func (b Backend) Apply(rev *v1.Revision) error { return b.Runtime.Apply(rev) }

// Pods returns the revision's pods as runtime.Pod values.
func (b Backend) Pods(key types.NamespacedName) []runtime.Pod {
	pods := b.Runtime.Pods(key)
	out := make([]runtime.Pod, 0, len(pods))
	for _, p := range pods {
		out = append(out, runtime.Pod{
			Name:        p.Name,
			Address:     p.Address,
			Ready:       p.State == PodReady,
			Terminating: p.State == PodTerminating,
			Restarts:    p.Restarts,
			LastExit:    p.LastExit,
			Pending:     p.State == PodPending,
			Reason:      p.Reason,

			LastProbeFailure: p.LastProbeFailure,
		})
	}
	return out
}

// Stats returns the last per-second stat of each of the revision's pods, the one its
// queue proxy reports, with PodName set to the pod's name.
func (b Backend) Stats(key types.NamespacedName, now time.Time) []metrics.Stat {
	stats := b.Runtime.Stats(key, now)
	out := make([]metrics.Stat, 0, len(stats))
	for name, s := range stats {
		s.PodName = name
		out = append(out, s)
	}
	return out
}
