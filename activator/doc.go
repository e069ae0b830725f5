// Package activator holds requests for revisions that have no (or too little)
// capacity and forwards each one, exactly once, to a pod as soon as capacity appears:
// it is what makes scale-to-zero safe, as Knative's activator does.
//
// The pieces:
//
//   - Throttler: one per process. It knows the revisions (SetRevision), their pod
//     addresses (UpdateEndpoints, pushed by the platform), probes new pods with
//     `K-Network-Probe: queue` and uses each the moment it passes, and admits
//     requests with Try: capacity = containerConcurrency × ready pods assigned to this
//     activator (UpdateActivators), or an open gate for containerConcurrency 0. Run
//     owns its goroutines (probers, the one-second stat reporter).
//   - Policy: the load-balancing policies chosen by containerConcurrency
//     (FirstAvailable for 1–3, RoundRobin above, RandomChoiceOfTwo for 0) over Trackers
//     that count this activator's requests in flight to each pod.
//   - Handler: the http.Handler the platform puts in front of revisions in proxy mode:
//     one httputil.ReverseProxy built once, the revision picked by a Resolver the
//     platform provides, the revision timeout applied while waiting.
//   - StatSink: where per-revision concurrency and request counts go every second, plus
//     the immediate "poke" on the first request for a cold revision.
//   - Serve: the activator as a process's servers: the Handler on a traffic listener,
//     /healthz (and optionally /metrics) on an admin listener, both on loopback by
//     default, with the drain on shutdown.
//
// Subpackage endpoints feeds a Throttler from a static description of revisions and
// pod addresses (a file it watches), for running without a control plane; ocmetrics
// exports the Hooks as OpenCensus measures.
//
// # Differences from Knative, on purpose
//
//   - The revision comes from a Resolver the platform supplies. Knative's
//     Knative-Serving-Namespace/Revision headers choose any revision in any namespace
//     when a client can reach the activator directly; KnativeHeaders is available but
//     must be chosen explicitly.
//   - Forwarded requests carry queue.PeerTokenHeader (a shared secret) next to
//     `K-Proxy-Request: activator`, so a client cannot forge "already counted by the
//     activator" and hide its load from the autoscaler. K-Original-Host is always set
//     from the request's Host (Knative keeps a client-supplied value, which the pod
//     would then trust) and K-Kubelet-Probe is removed.
//   - The queue of waiting requests is bounded for every revision, containerConcurrency
//     0 included (Knative's unlimited gate has no bound; its finite breaker is sized so
//     that its bound is never reached).
//   - Deadline-aware admission: a request that would wait for a cold revision and whose
//     deadline ends before the revision's observed cold start would is answered 503 at
//     once (DeadlineError) instead of holding a slot until it times out.
//   - A request that could not be sent to its pod at all (connection refused: the pod
//     went away) fails over to another pod; nothing is retried once a byte went
//     upstream. The failed pod is probed again before it is used.
//   - Hooks expose the cold-start time and each request's queue wait (knative#13583).
package activator
