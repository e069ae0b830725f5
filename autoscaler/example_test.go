package autoscaler_test

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/servekit/servekit/autoscaler"
)

func ExampleConfigFromMap() {
	cfg, err := autoscaler.ConfigFromMap(map[string]string{
		"container-concurrency-target-percentage": "80", // percent → 0.8
		"stable-window": "2m",
	})
	fmt.Println(cfg.ContainerConcurrencyTargetFraction, cfg.StableWindow, err)

	_, err = autoscaler.ConfigFromMap(map[string]string{"max-scale-up-rate": "1"})
	fmt.Println(err)
	// Output:
	// 0.8 2m0s <nil>
	// autoscaler: max-scale-up-rate = 1: must be greater than 1
}

func ExampleSpecFromAnnotations() {
	spec, _ := autoscaler.SpecFromAnnotations(autoscaler.DefaultConfig(), map[string]string{
		"autoscaling.knative.dev/target": "20",
		"autoscaling.knative.dev/window": "120s",
	}, 0)
	fmt.Println(spec.TotalValue, spec.TargetValue, spec.StableWindow, spec.PanicWindow)
	// Output: 20 14 2m0s 12s
}

func ExampleValidateAnnotations() {
	errs := autoscaler.ValidateAnnotations(autoscaler.DefaultConfig(), map[string]string{
		"autoscaling.knative.dev/minScale":  "3", // legacy alias
		"autoscaling.knative.dev/max-scale": "2",
		"autoscaling.knative.dev/window":    "1s",
	})
	for _, e := range errs {
		fmt.Println(e)
	}
	// Output:
	// autoscaler: annotation autoscaling.knative.dev/window = "1s": must be in [6s, 1h]
	// autoscaler: annotation autoscaling.knative.dev/max-scale = "2": must be at least autoscaling.knative.dev/minScale = 3
}

func ExampleDecider() {
	spec, _ := autoscaler.SpecFromAnnotations(autoscaler.DefaultConfig(), nil, 0) // target 70
	t0 := time.Unix(0, 0)
	d := autoscaler.NewDecider(spec, 1, t0)
	for i, load := range []float64{50, 300, 100} {
		now := t0.Add(time.Duration(2*(i+1)) * time.Second)
		dec := d.Decide(now, autoscaler.Observation{ReadyPods: 1, Stable: load, Panic: load})
		fmt.Printf("load %v: %d pods, panic %v\n", load, dec.DesiredPodCount, dec.Panic)
	}
	// Output:
	// load 50: 1 pods, panic false
	// load 300: 5 pods, panic true
	// load 100: 5 pods, panic true
}

func ExampleBounds() {
	spec, _ := autoscaler.SpecFromAnnotations(autoscaler.DefaultConfig(),
		map[string]string{"autoscaling.knative.dev/target-burst-capacity": "0"}, 0)
	t0 := time.Unix(0, 0)
	b := autoscaler.NewBounds(spec, t0)
	for _, step := range []struct {
		at      time.Duration
		desired int32
	}{{0, 1}, {60 * time.Second, 0}, {90 * time.Second, 0}} {
		r := b.Reconcile(t0.Add(step.at), autoscaler.Status{DesiredScale: step.desired}, 1)
		fmt.Printf("t=%v desired %d → replicas %d, %v, activator in path %v\n",
			step.at, step.desired, r.Replicas, r.State, r.ActivatorInPath)
	}
	// Output:
	// t=0s desired 1 → replicas 1, active, activator in path false
	// t=1m0s desired 0 → replicas 1, inactive, activator in path true
	// t=1m30s desired 0 → replicas 0, inactive, activator in path true
}

// readyPods is the platform's pod count; here, always 1.
type readyPods struct{}

func (readyPods) ReadyPods(types.NamespacedName) (int, error) { return 1, nil }

// scaleChan receives scale results.
type scaleChan chan autoscaler.ScaleResult

func (c scaleChan) SetScale(_ context.Context, _ types.NamespacedName, r autoscaler.ScaleResult) error {
	c <- r
	return nil
}

// A controller drives the MultiScaler: it adds revisions, feeds stats
// (scraped every second, pushed by the activator) and applies the results.
func ExampleMultiScaler() {
	clk := testingclock.NewFakeClock(time.Unix(0, 0))
	results := make(scaleChan, 10)
	ms, _ := autoscaler.NewMultiScaler(autoscaler.Options{
		Clock: clk, PodCounter: readyPods{}, ScaleSetter: results,
	})
	key := types.NamespacedName{Namespace: "default", Name: "hello-00001"}
	spec, _ := autoscaler.SpecFromAnnotations(autoscaler.DefaultConfig(),
		map[string]string{"autoscaling.knative.dev/target": "10"}, 0) // target 7
	ms.Set(key, spec)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- ms.Run(ctx) }()
	for !clk.HasWaiters() { // wait for the tick loop to start
		time.Sleep(time.Millisecond)
	}

	ms.Record(key, clk.Now(), autoscaler.Stat{AverageConcurrentRequests: 25})
	clk.Step(autoscaler.TickInterval)
	r := <-results
	fmt.Printf("replicas %d, %v, activator in path %v\n", r.Replicas, r.State, r.ActivatorInPath)

	cancel()
	fmt.Println(<-done)
	// Output:
	// replicas 4, active, activator in path true
	// <nil>
}
