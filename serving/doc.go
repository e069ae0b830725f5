// Package serving holds the names shared by every servekit control-plane
// package: the Knative API group and the label and annotation keys that
// Knative Serving puts on (or reads from) Services, Configurations,
// Revisions and Routes.
//
// The package has no logic. The keys are spelled exactly as Knative spells
// them, so objects written by servekit and by Knative are interchangeable.
// The typed v1 API (Service, Configuration, Revision, Route) lives in
// package serving/v1.
package serving
