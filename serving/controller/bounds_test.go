package controller_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/runtime/local"
	v1 "github.com/servekit/servekit/serving/v1"
)

// TestInitialScaleZeroAllowedByConfig: a Service annotated initial-scale "0"
// is applied when the controller's config-autoscaler sets
// allow-zero-initial-scale, and refused with the default config (issue 17
// case 10). Validation used Knative's default config whatever the platform's.
func TestInitialScaleZeroAllowedByConfig(t *testing.T) {
	allow, err := autoscaler.ConfigFromMap(map[string]string{autoscaler.KeyAllowZeroInitialScale: "true"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		cfg   *autoscaler.Config
		valid bool
	}{
		{"allowed", &allow, true},
		{"default config", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := controller.New(controller.Options{Backend: newFakeBackend(), Autoscaler: tc.cfg})
			if err != nil {
				t.Fatal(err)
			}
			svc := testService("zero", "example.com/hello")
			svc.Spec.Template.Annotations = map[string]string{autoscaler.AnnotationInitialScale: "0"}
			err = c.Apply("zero.yaml", []v1.Object{svc})
			if tc.valid && err != nil {
				t.Errorf("Apply(initial-scale 0) = %v, want accepted", err)
			}
			if !tc.valid && err == nil {
				t.Error("Apply(initial-scale 0) accepted, want refused")
			}
		})
	}
}

// boundedRecorder records every Scale call and refuses (without creating pods)
// any above 100, so that a missing bound shows as a failure, not as 100,000 test
// servers.
type boundedRecorder struct{ *scaleRecorder }

func (b boundedRecorder) Scale(key types.NamespacedName, n int) error {
	if n > 100 {
		b.mu.Lock()
		b.scales[key] = append(b.scales[key], n)
		b.mu.Unlock()
		return fmt.Errorf("test backend: %d pods refused", n)
	}
	return b.scaleRecorder.Scale(key, n)
}

// TestLocalDefaultMaxScale: with the local platform's config-autoscaler
// (local.BoundScale over Knative's defaults), a revision that sets no max-scale
// never gets more than local.DefaultMaxScale() pods, however high its computed
// desired scale, and initial-scale 100000 starts at that bound (issue 17 case 7:
// 40 clients on a containerConcurrency 1 revision forked 58 processes).
func TestLocalDefaultMaxScale(t *testing.T) {
	limit := int(local.DefaultMaxScale())
	for _, tc := range []struct {
		name string
		ann  map[string]string
	}{
		{"no annotations", nil},
		{"initial-scale 100000", map[string]string{autoscaler.AnnotationInitialScale: "100000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := local.BoundScale(autoscaler.DefaultConfig())
			b := boundedRecorder{&scaleRecorder{fakeBackend: newFakeBackend(), scales: map[types.NamespacedName][]int{}}}
			clk := clocktesting.NewFakeClock(time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC))
			c, err := controller.New(controller.Options{Backend: b, Clock: clk, Autoscaler: &cfg})
			if err != nil {
				t.Fatal(err)
			}
			svc := testService("busy", "example.com/hello")
			svc.Spec.Template.Spec.ContainerConcurrency = new(int64(1))
			svc.Spec.Template.Annotations = tc.ann
			if err := c.Apply("busy.yaml", []v1.Object{svc}); err != nil {
				t.Fatal(err)
			}
			run(t, c)
			key := types.NamespacedName{Namespace: "default", Name: "busy-00001"}
			waitFor(t, "the first scale", func() bool { return len(b.scaled(key)) > 0 })
			// 500 requests in flight at containerConcurrency 1: a desired scale of
			// ceil(500 / 0.7) = 715 pods, up-rate permitting.
			waitFor(t, "the bound", func() bool {
				c.RecordActivatorStat("default", "busy-00001", 500, 500)
				clk.Step(time.Second)
				s := b.scaled(key)
				return s[len(s)-1] == limit
			})
			if s := b.scaled(key); slices.Max(s) != limit {
				t.Errorf("scales %v: want none above local.DefaultMaxScale() = %d", s, limit)
			}
		})
	}
}
