// Package route turns a Route's traffic targets into weighted revisions and
// picks one revision per request.
//
// The one idea: a Route's spec (traffic targets, tags, labels) plus the state
// of its Configurations and Revisions yields, for every host the Route
// answers, a fixed set of revisions with integer percentages; the request
// path only looks the host up in an immutable [Table] and asks its
// [Picker] for a revision.
//
// The pieces, in the order a controller uses them:
//
//   - [ValidateTargets] / [ValidateServiceTargets]: Knative's webhook rules
//     for spec.traffic (percent range and sum, tags as DNS-1035 labels,
//     duplicate tags, one of revisionName / configurationName).
//   - [Resolve]: Knative's traffic resolution (a configuration target follows
//     its latest ready revision, pinned revisions stay, targets of one
//     revision merge, a tag gets its own group) with Knative's
//     RevisionMissing / ConfigurationMissing / RevisionNotOwned errors.
//   - [Config] and [ConfigFromMaps]: the config-network, config-domain and
//     config-features keys; [Config.Hosts] renders the domain and tag
//     templates, chooses the domain by labels and applies cluster-local
//     visibility.
//   - [Rollout]: gradual rollout of a new latest revision, step by step as
//     Knative does it, with the current time passed in.
//   - [Config.TableRoute], [NewTable], [TableHolder]: the per-request lookup
//     from Host (and the Knative-Serving-Tag header) to a [Picker], swapped
//     atomically when routes change.
//
// Guarantees: a [Table] is immutable after [NewTable] returns, so any number
// of goroutines may look up and pick without locks; [Picker.Pick] allocates
// nothing and, over any 100 consecutive picks, returns every revision exactly
// as many times as its percentage.
//
// The package imports only the standard library and
// k8s.io/apimachinery/pkg/util/validation; it knows nothing of Kubernetes
// objects. The serving package converts its v1 types to the plain values here.
package route
