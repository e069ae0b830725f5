package hpa_test

import (
	"fmt"
	"time"

	"github.com/servekit/servekit/autoscaler/hpa"
)

// Example runs the HPA's decision on a revision targeting 80 % of its CPU
// request, with a 60 s scale-down window: a load spike scales it up at once,
// and it comes back down only once the spike has been out of the window.
func Example() {
	d, err := hpa.New(hpa.Spec{Target: 80, Max: 10, ScaleDownWindow: 60 * time.Second})
	if err != nil {
		panic(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	replicas := int32(1)
	for _, step := range []struct {
		at  time.Duration
		cpu float64 // each pod's CPU use, percent of its request
	}{
		{0, 85},                 // within the 10 % tolerance
		{15 * time.Second, 200}, // 2.5 × the target
		{30 * time.Second, 70},  // 3 pods at 70 %: within the tolerance
		{45 * time.Second, 10},  // idle: wants 1, the window holds 3
		{75 * time.Second, 10},  // t=30s's 3 is still within the window
		{90 * time.Second, 10},  // only idle recommendations left
	} {
		usages := make([]float64, replicas)
		for i := range usages {
			usages[i] = step.cpu
		}
		dec := d.Decide(t0.Add(step.at), replicas, usages)
		fmt.Printf("t=%v cpu=%v%% replicas %d -> %d\n", step.at, step.cpu, replicas, dec.Replicas)
		replicas = dec.Replicas
	}
	// Output:
	// t=0s cpu=85% replicas 1 -> 1
	// t=15s cpu=200% replicas 1 -> 3
	// t=30s cpu=70% replicas 3 -> 3
	// t=45s cpu=10% replicas 3 -> 3
	// t=1m15s cpu=10% replicas 3 -> 3
	// t=1m30s cpu=10% replicas 3 -> 1
}
