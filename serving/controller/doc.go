// Package controller composes servekit's primitives into a serving platform: it
// reconciles Knative Services into Configurations, Routes and immutable Revisions,
// runs each Revision's pods on a Backend, scales them with the KPA (package
// autoscaler), routes requests by Host through the route table — straight to pods, or
// through the activator when a revision has too little spare capacity (Knative's SKS
// Serve/Proxy modes) — and reports Knative's status conditions and URLs.
//
// The one idea: a Controller owns the control loop, composes the data path (the
// ingress of package serving/ingress, the activator, the autoscaler) and owns nothing
// about where pods run. That is the runtime's job: a runtime.Backend (package
// serving/runtime declares the contract; serving/runtime/local runs processes on one
// machine, serving/runtime/kube a Kubernetes cluster, and a platform team can plug
// in its own).
//
// Objects come in through Apply (grouped by source, e.g. a manifest file, so that
// removing a source deletes its objects) and go out as Status. With Options.Store they
// survive a restart of the process (serving/store keeps them in one file). Run(ctx) runs
// everything and returns only after every goroutine it started has ended.
package controller
