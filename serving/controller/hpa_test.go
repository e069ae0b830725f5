package controller_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/runtime"
	v1 "github.com/servekit/servekit/serving/v1"
)

// hpaBackend is a fakeBackend that runs the HPA class: SetHPA records the spec
// and starts the revision at its minimum (at least one pod) through the fake's own
// Scale, so that the controller's Scale calls, recorded by the scaleRecorder, are
// only the controller's.
type hpaBackend struct {
	*scaleRecorder
	hmu   sync.Mutex
	specs map[types.NamespacedName][]autoscaler.Spec
}

func (b *hpaBackend) SetHPA(key types.NamespacedName, spec autoscaler.Spec) error {
	b.hmu.Lock()
	first := len(b.specs[key]) == 0
	b.specs[key] = append(b.specs[key], spec)
	b.hmu.Unlock()
	if first {
		return b.fakeBackend.Scale(key, int(max(spec.MinScale, 1)))
	}
	return nil
}

func (b *hpaBackend) HPAStatus(key types.NamespacedName) runtime.HPAStatus {
	return runtime.HPAStatus{DesiredReplicas: 3, Message: "test: no metrics"}
}

func (b *hpaBackend) hpaSpecs(key types.NamespacedName) []autoscaler.Spec {
	b.hmu.Lock()
	defer b.hmu.Unlock()
	return append([]autoscaler.Spec(nil), b.specs[key]...)
}

func hpaService(name string) *v1.Service {
	svc := testService(name, "example.com/hello")
	svc.Spec.Template.Annotations = map[string]string{
		autoscaler.AnnotationClass:  autoscaler.ClassHPA,
		autoscaler.AnnotationMetric: autoscaler.MetricCPU,
		autoscaler.AnnotationTarget: "80",
	}
	return svc
}

// TestHPAClassIsTheBackends (issue 15 item 7): an HPA-class revision is handed to
// the backend's HPA with its target as written (80, not a concurrency of 56), is
// never scaled by the controller (the KPA would scale it to zero after its grace
// period with no traffic), has the activator out of its path once it has a ready
// pod, and shows the HPA's desired scale and message.
func TestHPAClassIsTheBackends(t *testing.T) {
	b := &hpaBackend{scaleRecorder: &scaleRecorder{fakeBackend: newFakeBackend(), scales: map[types.NamespacedName][]int{}},
		specs: map[types.NamespacedName][]autoscaler.Spec{}}
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC))
	c, err := controller.New(controller.Options{Backend: b, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply("hpa.yaml", []v1.Object{hpaService("cpu")}); err != nil {
		t.Fatal(err)
	}
	run(t, c)
	key := types.NamespacedName{Namespace: "default", Name: "cpu-00001"}
	waitFor(t, "the HPA spec", func() bool { return len(b.hpaSpecs(key)) > 0 })
	if s := b.hpaSpecs(key)[0]; s.Class != autoscaler.ClassHPA || s.Metric != autoscaler.MetricCPU || s.TargetValue != 80 {
		t.Errorf("SetHPA spec: class %s metric %s target %v, want %s cpu 80", s.Class, s.Metric, s.TargetValue, autoscaler.ClassHPA)
	}
	rev := func() controller.RevisionStatus {
		for _, s := range c.Status().Services {
			for _, r := range s.Revisions {
				if r.Name == key.Name {
					return r
				}
			}
		}
		return controller.RevisionStatus{}
	}
	waitFor(t, "the revision ready", func() bool { return rev().Ready })
	// Well past the KPA's stable window and scale-to-zero grace, with no traffic.
	for range 20 {
		clk.Step(10 * time.Second)
		c.RecordActivatorStat("default", key.Name, 0, 0)
	}
	waitFor(t, "the ticks to pass", func() bool { return clk.Since(time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)) >= 200*time.Second })
	r := rev()
	if got := b.scaled(key); len(got) != 0 {
		t.Errorf("controller scaled the HPA revision: %v", got)
	}
	if !r.Ready || r.ReadyPods != 1 || r.ActivatorInPath || r.DesiredScale != 3 ||
		r.Autoscaler != autoscaler.ClassHPA || r.AutoscalerMessage != "test: no metrics" {
		t.Errorf("revision status %+v: want ready, 1 pod, activator out of the path, desired 3 from the HPA and its message", r)
	}
}

// TestHPAClassWithoutHPABackend: a runtime that cannot run the HPA class fails
// the revision with a message that says so, rather than letting the KPA scale it.
func TestHPAClassWithoutHPABackend(t *testing.T) {
	b := &scaleRecorder{fakeBackend: newFakeBackend(), scales: map[types.NamespacedName][]int{}}
	c, err := controller.New(controller.Options{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply("hpa.yaml", []v1.Object{hpaService("cpu")}); err != nil {
		t.Fatal(err)
	}
	run(t, c)
	waitFor(t, "the revision's failure", func() bool {
		for _, s := range c.Status().Services {
			for _, r := range s.Revisions {
				if strings.Contains(r.Message, "does not run the HPA autoscaling class") {
					return true
				}
			}
		}
		return false
	})
	if got := b.scaled(types.NamespacedName{Namespace: "default", Name: "cpu-00001"}); len(got) != 0 {
		t.Errorf("scaled %v, want never", got)
	}
}
