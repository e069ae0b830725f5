// Package kube is servekit's Kubernetes backend: it runs revisions on a cluster
// through client-go, as Knative's revision reconciler does
// (knative.dev/serving/pkg/reconciler/revision; docs/kubernetes.md).
//
// The one idea: a Revision becomes Kubernetes objects, and everything the controller
// needs to know about its pods is read back from Kubernetes. Backend.Apply creates the
// Deployment "<rev>-deployment" — the user's containers (ports, PORT and K_* env,
// probes rewired, the preStop drain hook) plus the queue proxy sidecar with Knative's
// environment contract (queue.ParseEnv), terminationGracePeriodSeconds from the
// revision timeout, the revision as owner — and the private Service "<rev>-private"
// that selects its pods. Scale writes the Deployment's scale subresource; Pods reads
// the private Service's EndpointSlices (ready and terminating conditions) from an
// informer; Stats returns what Run's scrape loop last read from each ready pod's queue
// proxy on port 9090. Backend implements serving/runtime's Backend interface.
//
// Only the leader writes: a Backend created with Options.Follower records what the
// controller asks (so that its Pods and Stats are the leader's) and creates, scales
// and deletes nothing until SetLeader(true), when it ensures every recorded revision's
// children and last scale. With Options.PeerToken the leader also keeps the
// peer-token Secret, which the queue proxies read, in each namespace it runs
// revisions in.
//
// This package (with its test harness) is the only servekit package that imports
// client-go; the primitives never do (nodeps_test.go checks it).
//
// The objects themselves live in the API server through the store subpackage, which
// also wraps Backend so that Deployments are owned by the API server's Revisions;
// the leader subpackage runs the controller on one replica at a time; the webhook
// subpackage defaults and validates the objects at admission, as Knative's webhook.
package kube
