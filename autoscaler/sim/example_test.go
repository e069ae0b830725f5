package sim_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/autoscaler/sim"
)

// A trace built in Go: 50 requests in flight for 20 s against a target of
// 10 per pod, with pods that take 4 s to start.
func ExampleSimulate() {
	spec, err := autoscaler.SpecFromAnnotations(autoscaler.DefaultConfig(), map[string]string{
		autoscaler.AnnotationTarget:            "10",
		autoscaler.AnnotationTargetUtilization: "100",
	}, 0)
	if err != nil {
		panic(err)
	}
	ticks, err := sim.Simulate(&sim.Trace{
		Spec:       spec,
		Duration:   20 * time.Second,
		PodStartup: 4 * time.Second,
		Samples: []sim.Sample{
			{At: 0, Concurrency: 10},
			{At: 6 * time.Second, Concurrency: 50},
		},
	})
	if err != nil {
		panic(err)
	}
	for _, t := range ticks[:6] {
		fmt.Printf("%v: ready %d, desired %d, scale %d, panic %t\n", t.At, t.ReadyPods, t.Desired, t.Scale, t.Panic)
	}
	// Output:
	// 2s: ready 0, desired 1, scale 1, panic false
	// 4s: ready 1, desired 1, scale 1, panic false
	// 6s: ready 1, desired 2, scale 2, panic true
	// 8s: ready 1, desired 3, scale 3, panic true
	// 10s: ready 2, desired 5, scale 5, panic true
	// 12s: ready 3, desired 5, scale 5, panic true
}

// The assertions a platform team writes in its own go test (here printed):
// how long a burst takes to reach its pods, and that an idle revision goes
// to zero only after the grace period. slices.IndexFunc finds the first
// tick with a property.
func ExampleSimulate_assertions() {
	spec, _ := autoscaler.SpecFromAnnotations(autoscaler.DefaultConfig(), map[string]string{
		autoscaler.AnnotationTarget:              "10",
		autoscaler.AnnotationTargetUtilization:   "100",
		autoscaler.AnnotationTargetBurstCapacity: "0",
		autoscaler.AnnotationWindow:              "20s",
	}, 0)
	ticks, err := sim.Simulate(&sim.Trace{
		Spec:       spec,
		Duration:   3 * time.Minute,
		PodStartup: 3 * time.Second,
		Samples: []sim.Sample{
			{At: 0, Concurrency: 5},
			{At: 10 * time.Second, Concurrency: 60}, // a burst to 6 pods' worth
			{At: 40 * time.Second, Concurrency: 0},  // then nothing
		},
	})
	if err != nil {
		panic(err)
	}
	// Time to scale to 6 pods after the burst starts.
	i := slices.IndexFunc(ticks, func(t sim.Tick) bool { return t.Scale >= 6 })
	fmt.Println("scale 6 after", ticks[i].At-10*time.Second)
	i = slices.IndexFunc(ticks, func(t sim.Tick) bool { return t.ReadyPods >= 6 })
	fmt.Println("6 pods ready after", ticks[i].At-10*time.Second)

	// Scale to zero: the decider wants 0 once the stable window is empty,
	// the last pod goes a grace period later.
	desired0 := ticks[slices.IndexFunc(ticks, func(t sim.Tick) bool { return t.At > 40*time.Second && t.Desired == 0 })].At
	scale0 := ticks[slices.IndexFunc(ticks, func(t sim.Tick) bool { return t.At > 40*time.Second && t.Scale == 0 })].At
	fmt.Println("desired 0 at", desired0, "scale 0 at", scale0)
	// In a go test: if scale0-desired0 < spec.ScaleToZeroGracePeriod { t.Errorf(…) }
	fmt.Println("last pod kept", scale0-desired0, "for a grace period of", spec.ScaleToZeroGracePeriod)
	// Output:
	// scale 6 after 2s
	// 6 pods ready after 6s
	// desired 0 at 1m0s scale 0 at 1m30s
	// last pod kept 30s for a grace period of 30s
}

// DecodeTrace reads the JSON form; its errors name the field.
func ExampleDecodeTrace() {
	_, err := sim.DecodeTrace(strings.NewReader(`{"duration": "60s", "samples": [{"at": "0s"}, {"at": "0.5s"}]}`))
	fmt.Println(err)

	tr, err := sim.DecodeTrace(strings.NewReader(`{
		"annotations": {"autoscaling.knative.dev/target": "10"},
		"duration": "6s",
		"samples": [{"at": "0s", "concurrency": 25}]
	}`))
	if err != nil {
		panic(err)
	}
	ticks, _ := sim.Simulate(tr)
	if err := sim.WriteJSONLines(os.Stdout, ticks); err != nil {
		panic(err)
	}
	// Output:
	// sim: samples[1].at: 500ms must be whole seconds
	// {"at":"2s","readyPods":1,"stableConcurrency":25,"panicConcurrency":25,"stableRPS":0,"panicRPS":0,"desired":4,"excessBurstCapacity":-226,"panic":true,"scale":4,"valid":true}
	// {"at":"4s","readyPods":4,"stableConcurrency":25,"panicConcurrency":25,"stableRPS":0,"panicRPS":0,"desired":4,"excessBurstCapacity":-196,"panic":true,"scale":4,"valid":true}
	// {"at":"6s","readyPods":4,"stableConcurrency":25,"panicConcurrency":25,"stableRPS":0,"panicRPS":0,"desired":4,"excessBurstCapacity":-196,"panic":true,"scale":4,"valid":true}
}
