// Package sim replays a load trace through servekit's autoscaler — the
// metric windows ([autoscaler.Collector]), the KPA decider
// ([autoscaler.Decider]) and the scale bounds and scale to zero
// ([autoscaler.Bounds]) — exactly as the platform runs them, and returns
// every decision. It is the "unit-test the autoscaling math offline" use of
// the library: a platform team builds a [Trace] in Go (or decodes one with
// [DecodeTrace]), calls [Simulate] inside its own go test, and asserts on
// the ticks ([Tick]), with no clock, goroutine or network involved.
//
// [WriteJSONLines], [WriteCSV] and [WriteSVG] render the ticks; the
// examples/scalesim command is a thin wrapper around this package.
//
// # Trace format
//
// [DecodeTrace] reads one JSON object:
//
//	{
//	  "config":      {"stable-window": "60s", "...": "..."},
//	  "annotations": {"autoscaling.knative.dev/target": "10"},
//	  "containerConcurrency": 0,
//	  "duration":    "180s",
//	  "podStartup":  "3s",
//	  "samples": [
//	    {"at": "0s",  "concurrency": 0,  "rps": 0},
//	    {"at": "10s", "concurrency": 55, "rps": 120, "readyPods": 3},
//	    {"at": "90s", "noData": true}
//	  ]
//	}
//
// The fields:
//
//   - config (config-autoscaler keys, parsed by [autoscaler.ConfigFromMap]),
//     annotations (autoscaling.knative.dev/*, resolved by
//     [autoscaler.SpecFromAnnotations]) and containerConcurrency are
//     Knative's; absent means defaults.
//   - duration is required (whole seconds, at most 24h); podStartup
//     defaults to 0s (at most 24h).
//   - Samples are steps: each holds from its at (whole seconds, strictly
//     increasing, at most duration) until the next sample's at.
//     concurrency and rps are revision totals for each second (what the
//     collector records after subtracting proxied traffic), each in
//     [0, 1e12]. noData: true records nothing for those seconds and cannot
//     be combined with concurrency or rps.
//   - readyPods (optional, at most 1,000,000) is the ready pod count the
//     decider sees. Without it the simulator supplies it: pods follow the
//     applied scale, each becoming ready podStartup after it was asked for,
//     and leave at once on scale-down.
//
// An HPA-class trace (annotation autoscaling.knative.dev/class:
// hpa.autoscaling.knative.dev, metric cpu, the default) is driven by a cpu
// column instead of concurrency and rps, which it rejects:
//
//	{"at": "50s", "cpu": 300}
//
// cpu is the revision's total CPU use as a percentage of one pod's CPU
// request (300 = three pods' worth), in [0, 1e12], shared equally by the
// ready pods; it is an error in a KPA trace. The target annotation is a
// percentage of the request (80 when absent, as a Kubernetes HPA without
// metrics), max-scale and min-scale bound the scale (at least 1), and an
// annotated window is the stabilisation window both ways (without one,
// Kubernetes' defaults: up at once, down over 300 s). See Simulate.
//
// Unknown fields, values of the wrong JSON type and trailing data are
// errors. Every error starts with "sim: " and names the field, and for
// samples the index: "sim: samples[3].at: …".
//
// # The clock
//
// t = 0 is the Unix epoch, so the decider's 2-second scale-down-delay slots
// line up with the ticks. The decider is created at t = 0 and sees the ready
// pods in effect then (more than one ready pod starts it in panic, as
// Knative's decider does). For every whole second t from 0 to duration,
// first the step in effect at t is recorded for second t, then, if t > 0 and
// t is even, the decider runs at now = t and the bounds logic decides the
// applied scale, which the simulated pods follow.
//
// # Output
//
// [WriteJSONLines] writes one line per tick (an HPA tick adds "cpu", the
// per-pod average, and zeroes the KPA's columns):
//
//	{"at":"2s","readyPods":1,"stableConcurrency":10,"panicConcurrency":10,"stableRPS":0,"panicRPS":0,"desired":2,"excessBurstCapacity":-122,"panic":false,"scale":2,"valid":true}
//
// desired is the decider's DesiredPodCount; scale is what the platform
// applies after min/max/initial scale and scale-to-zero gating; valid is
// false when the decider had no data ([autoscaler.ErrNoData]) and kept its
// last decision. [WriteCSV] writes the same columns (at_seconds in seconds)
// plus the revision state and activatorInPath. [WriteSVG] draws load (right
// axis), the stable average, desired scale, applied scale and ready pods
// (left axis) against time, with panic periods shaded, the revision state
// as a strip along the top and ticks without data marked.
//
// # Shipped traces
//
// The package's testdata directory holds five traces; its tests assert
// these decisions:
//
//   - steady.json: 30 in flight at target 10 from one pod: panic on the
//     first tick (3 pods ÷ 1 ready ≥ 2), 3 pods throughout, panic ends at
//     64 s (a stable window after the last over-threshold tick).
//   - burst.json: 5 → 80 → 5: panic at exactly 30 s, the ratchet holds
//     8 pods until 94 s, then halving-limited scale-down.
//   - drain-to-zero.json: TBC 0, load stops at 30 s: desired 0 at 90 s
//     (stable window), replicas 0 at 120 s (+ 30 s grace).
//   - scale-down-delay.json: 30 s delay: the scale first drops below 5 at
//     122 s, 30 s after the undelayed decider last wanted 5 (92 s); without
//     the delay it drops at 94 s.
//   - hpa-cpu.json (HPA class, target 80 % CPU): 300 % on one pod scales
//     to 4 at 60 s; idle from 240 s, the recommendation drops at once and
//     the scale holds 4 until 525 s (the 300 s down window after the last
//     recommendation of 4, at 225 s), then 1, never 0.
package sim
