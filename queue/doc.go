// Package queue is the pod-side half of servekit's data plane: a Proxy that sits in
// front of one user container, as Knative's queue-proxy sidecar does, and the Breaker
// that enforces the container's concurrency limit.
//
// The Proxy admits each request through the Breaker (containerConcurrency running, 10×
// more waiting, the next refused with 503 at once), enforces the revision's three
// timeouts, answers health probes from the user container's readiness probe, counts
// requests for the autoscaler (Stats, served as Knative's protobuf Stat: metrics.Stat of
// github.com/servekit/servekit/autoscaler/metrics) and drains without dropping a
// request. It speaks Knative's contract — headers, status codes and bodies, the
// SERVING_* / QUEUE_* environment (ParseEnv) and the ports of examples/queue-proxy — so
// it can stand in for Knative's queue-proxy. It imports no Kubernetes package and, of
// servekit, only the stat's leaf package autoscaler/metrics; the local runtime embeds
// one Proxy per pod in process (Run on 127.0.0.1:0 listeners, Ready, Drain, Stat).
//
// # Request path
//
// In order: health probes (K-Network-Probe: queue → 200 "queue" when ready, 503 when
// not, 503 "shutting down" while draining; K-Network-Probe: probe → echo
// K-Network-Hash) are answered without touching the app, the breaker or the stats;
// the timeouts start; the request is counted (Stats.In); it waits for a breaker slot;
// one httputil.ReverseProxy, built once with pooled 32 KiB buffers, forwards it to
// the app — HTTP/1.1, or cleartext HTTP/2 when it arrived as HTTP/2, upgrades
// (websockets) passed through. Results as in Knative: breaker full → 503 "pending
// request queue full"; app not listening → 502 with the dial error; client gone →
// nothing written.
//
// # Timeouts
//
// Total (ProxyOptions.Timeout), response start and idle, each answering 504 "request
// timeout", or appending that text when the response has started, as Knative does.
// The wait in the breaker counts. Knative runs every request on an extra goroutine to
// do this; here the request stays on its own goroutine and timers write through a
// locked ResponseWriter whose header map stays private until the response starts, so
// a timeout never races with the handler. Difference: a zero Timeout means no limit
// (Knative times out at once; its webhook never lets it be 0). Hijacked (websocket)
// connections leave the timeouts behind; Run bounds them at shutdown.
//
// # Trust
//
// Knative's queue-proxy believes four request headers from anyone who can reach it:
// K-Kubelet-Probe (or a kube-probe/ User-Agent) skips the breaker and the stats,
// K-Proxy-Request: activator hides a request from autoscaling, and K-Original-Host
// replaces the Host the app sees (knative.dev/networking/pkg/http/header/header.go).
// Here they take effect only on requests from a trusted peer (docs/queue.md, "Trust"):
// one whose Servekit-Peer-Token header equals ProxyOptions.PeerToken (compared in constant time), a secret the platform gives the
// proxy, the activator and the kubelet probe (an httpHeaders entry). From anyone else
// these headers are removed and have no effect; the token header itself is always
// removed before the app. With no token nobody is trusted. Knative's plain-header
// trust is an explicit opt-in, ProxyOptions.TrustKnativeHeaders, for a drop-in next
// to Knative's own activator. Health probes are answered for anyone: they reveal only
// readiness and never reach the app.
//
// # Drain
//
// Drain (Run calls it when its context ends; /wait-for-drain on the admin listener
// too) makes health probes fail at once, keeps serving, and returns after a quiet
// period (30 s by default) with no new request. Run then closes its listeners and
// idle connections (HTTP/2 connections get GOAWAY) and waits for every request in
// flight, hijacked connections included, up to ProxyOptions.ShutdownTimeout. No
// accepted request is dropped; long-lived streams (websockets, gRPC calls, event
// streams) are closed cleanly at ProxyOptions.DrainStreamDeadline from the start of
// the drain (WaitDrained): a websocket close frame 1001 "going away", gRPC status
// Unavailable, the end of the event stream, counted for a DrainReporter.
//
// # gRPC errors
//
// A gRPC call whose app fails before answering (refused connection, reset stream)
// gets a gRPC status instead of a 502, as from Envoy: DeadlineExceeded once its
// grpc-timeout has passed, Unavailable otherwise (WriteGRPCUpstreamError, which the
// activator and the ingress use too). A gRPC call past one of the revision timeouts
// gets DeadlineExceeded ("queue: request timeout"), trailers-only or in the trailers
// after what was sent, instead of Knative's 504 and its appended text.
//
// # Stats
//
// Stats integrates concurrency over time between events, as Knative's RequestStats:
// two requests of 500 ms in one second report an average concurrency of 1.0. Requests
// from the (trusted) activator are also counted as proxied, so the autoscaler does not
// count them twice. Every second Run closes a window (ReportStat); Stat returns it in
// process and StatsHandler serves it as protobuf (metrics.Stat.AppendProto, byte for
// byte as Knative's).
//
// # Breaker: FIFO waiters
//
// The Breaker matches Knative's (pkg/queue/breaker.go): MaxConcurrency callers run,
// QueueDepth more may wait, the next is refused at once with ErrRequestQueueFull, and
// the capacity can be changed while in use. It differs in one deliberate way: waiters
// are served first in, first out. In Knative a release wakes "some" waiter through a
// channel and any newcomer that finds a free slot takes it by CAS, so under sustained
// overload an old request can be overtaken again and again until its revision timeout
// fires (a 504 for a request that arrived early). Here a release hands its slot
// directly to the oldest waiter, and newcomers (and Reserve) never take a slot while
// anyone waits. The uncontended path is still one load and one CAS with no lock and
// no allocation; only when somebody has to wait does the breaker take a mutex.
//
// # Not implemented
//
// The TLS serving port (QUEUE_SERVING_TLS_PORT), h2c by HTTP/1.1 Upgrade (prior
// knowledge only, which gRPC uses), Knative's dial back-off on dial timeouts, full
// duplex (ENABLE_HTTP_FULL_DUPLEX is accepted and ignored), request logs and tracing. gRPC readiness
// probes are supported: the grpc.health.v1 call is encoded by hand.
package queue
