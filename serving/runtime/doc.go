// Package runtime is the contract between servekit's controller (package
// serving/controller) and a runtime: whatever runs a revision's pods — local
// processes (serving/runtime/local), a Kubernetes cluster (serving/runtime/kube), or
// a platform team's own (Nomad jobs, systemd units, VMs).
//
// The one idea: a runtime implements Backend and imports nothing of the controller.
// This package holds only the interface and the plain values a runtime is given and
// reports (a *v1.Revision in; Pod and metrics.Stat out), so a runtime depends on the v1
// API types and this package, not on the activator, the autoscaler or the route
// table (nodeps_test.go keeps it so).
//
// What a runtime must do, in the order the controller calls it:
//
//   - Run(ctx, notify) once, for the controller's lifetime: it owns the runtime's
//     goroutines and returns only after every pod it started is gone. notify
//     tells the controller that a revision's pods changed (a pod became ready, went
//     away, restarted); the controller then calls Pods.
//   - Apply once per new revision: the runtime learns the revision so it can scale
//     it. An error says what it cannot run (e.g. an image it cannot map); the
//     controller reports it in the revision's status. A runtime that applies
//     asynchronously also implements RevisionErrorer.
//   - Scale whenever the autoscaler's decision changes; scaling down drains the pods
//     that go (Knative's queue-proxy drain) before stopping them.
//   - Delete when the revision goes: every pod stops and the revision is forgotten.
//   - Pods and Stats at any time: the controller routes to the ready pods and scales
//     on the stats (what Knative's autoscaler scrapes from each queue proxy).
//
// Concurrency: every method may be called from any goroutine, concurrently with the
// others (Pods and Stats run on the controller's data and scaling paths), so all
// must be safe for concurrent use. notify may be called from any goroutine, also
// concurrently, and also while a Backend method is running: the controller never
// holds a lock a notify needs, and a runtime must not hold a lock of its own that
// Scale, Pods or Stats takes while it calls notify. Scale and Delete should
// not wait for pods to start or stop (Run's goroutines do that), and Pods and Stats
// return what the runtime last observed without calling out.
package runtime
