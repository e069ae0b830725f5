// Package queue is the pod-side half of servekit's data plane: the Breaker that
// enforces a pod's containerConcurrency, and (in the rest of the package) the proxy
// that sits in front of the user container, as Knative's queue-proxy does.
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
package queue
