// Package autoscaler is Knative's KPA autoscaler, decision for decision, as
// a library with no Kubernetes client in it.
//
// The pieces, each usable alone:
//
//   - [Config] and [ConfigFromMap]: the config-autoscaler ConfigMap keys with
//     Knative's defaults, parsing and validation order.
//   - [SpecFromAnnotations]: a revision's autoscaling.knative.dev/*
//     annotations (and legacy aliases) resolved into a [Spec];
//     [ValidateAnnotations] reports every bad one, by the same table.
//   - [Collector]: per-revision metric windows (package window) fed by
//     scraped and pushed [Stat]s; [Scraper] samples a revision's pods over
//     a [StatsClient].
//   - [Decider]: one pure step per tick, Decide(now, Observation).
//   - [Bounds]: min/max/initial scale and scale to zero as a state machine
//     driven by now, producing the replica count to apply.
//   - [MultiScaler]: all of the above for many revisions, one 2 s tick
//     loop on an injected clock.
//
// Package github.com/servekit/servekit/autoscaler/sim replays a load trace
// through the Collector, Decider and Bounds offline, for charts and for
// assertions in a platform team's own go test.
//
// Every decision takes the current instant as an argument; only
// MultiScaler owns a clock. Revisions are keyed by types.NamespacedName.
// The behaviour follows Knative Serving's code (not its docs); the places
// where the two differ are listed in docs/autoscaling.md, with benchmark
// figures (a decider step and window operations allocate nothing; a tick
// costs about 2 µs and 2.5 KB of memory per revision) and the command that
// reproduces them.
package autoscaler
