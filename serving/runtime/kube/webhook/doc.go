// Package webhook is servekit's admission webhooks for serving.knative.dev on a
// Kubernetes cluster, as Knative Serving's webhook: a defaulting (mutating) webhook
// that fills in Knative's defaults and the serving.knative.dev/creator and
// lastModifier annotations when an object is created or changed, and a validating
// webhook that refuses what Knative refuses, with Knative's messages and field paths
// (both from serving/v1). So defaults are in the stored object from its first
// generation, an unchanged re-apply changes nothing, and `kubectl apply` of an
// invalid Service fails.
//
// Handler answers AdmissionReview v1 requests. Server serves it over TLS and keeps
// what the API server needs to call it: a Secret with a self-signed CA and a serving
// certificate (made once, shared by every replica and restart, replaced before it
// expires), and the MutatingWebhookConfiguration and ValidatingWebhookConfiguration
// with that CA as caBundle, pointing at a Service (in a cluster) or at a URL
// (outside one: development and tests). See docs/kubernetes-cluster.md.
package webhook
