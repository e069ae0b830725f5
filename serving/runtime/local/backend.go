package local

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/serving/controller"
	v1 "github.com/servekit/servekit/serving/v1"
)

// Backend adapts a Runtime to controller.Backend.
type Backend struct{ *Runtime }

var _ controller.Backend = Backend{}

// Run runs the runtime (see Runtime.Run).
func (b Backend) Run(ctx context.Context, notify func(types.NamespacedName)) error {
	return b.Runtime.Run(ctx, notify)
}

// Apply records a revision (see Runtime.Apply).
func (b Backend) Apply(rev *v1.Revision) error { return b.Runtime.Apply(rev) }

// Pods returns the revision's pods in the controller's terms.
func (b Backend) Pods(key types.NamespacedName) []controller.Pod {
	pods := b.Runtime.Pods(key)
	out := make([]controller.Pod, 0, len(pods))
	for _, p := range pods {
		out = append(out, controller.Pod{
			Name:        p.Name,
			Address:     p.Address,
			Ready:       p.State == PodReady,
			Terminating: p.State == PodTerminating,
			Restarts:    p.Restarts,
			LastExit:    p.LastExit,
		})
	}
	return out
}

// Stats returns the stats of the revision's pods in the controller's terms.
func (b Backend) Stats(key types.NamespacedName, now time.Time) []controller.PodStats {
	stats := b.Runtime.Stats(key, now)
	out := make([]controller.PodStats, 0, len(stats))
	for name, s := range stats {
		out = append(out, controller.PodStats{
			Pod:                       name,
			AverageConcurrency:        s.AverageConcurrentRequests,
			AverageProxiedConcurrency: s.AverageProxiedConcurrentRequests,
			RequestCount:              s.RequestCount,
			ProxiedRequestCount:       s.ProxiedRequestCount,
		})
	}
	return out
}
