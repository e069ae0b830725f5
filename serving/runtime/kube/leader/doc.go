// Package leader runs a function only while this process holds a Kubernetes Lease, so
// that of several controller replicas exactly one writes (client-go leaderelection
// with a coordination.k8s.io Lease lock).
//
// The one idea: Run(ctx, opts, fn) campaigns for the Lease, calls fn with a context
// that ends when leadership ends (lost, or ctx done), releases the Lease, and returns
// only after fn has returned.
package leader
