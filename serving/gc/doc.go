// Package gc is Knative's revision garbage-collection policy as a pure
// function: given the config-gc settings, a Configuration, its Revisions and
// the current time, Collect says which Revisions to delete now.
//
// The policy never deletes a Revision that is still in use: the
// Configuration's latest ready Revision, one annotated
// serving.knative.dev/no-gc: "true", or one whose routing state is not
// "reserve" (pending and active Revisions are routed, or about to be).
// Among the rest it keeps at least MinNonActiveRevisions, deletes the ones
// that are stale by creation time and by last-active time, and then trims
// the oldest beyond MaxNonActiveRevisions.
//
// ConfigFromMap reads the config-gc ConfigMap keys, with Knative's defaults
// and the string "disabled" to switch a knob off.
package gc
