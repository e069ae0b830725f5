package store

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	v1 "github.com/servekit/servekit/serving/v1"
)

// The reasons of the Events the store records, Knative's.
const (
	// ReasonCreated (Normal) is recorded on a Service when its Configuration or
	// Route is created, and on a Configuration when its Revision is.
	ReasonCreated = "Created"
	// ReasonConfigurationReady (Normal) is recorded on a Configuration when it gets
	// its first ready Revision.
	ReasonConfigurationReady = "ConfigurationReady"
	// ReasonLatestReadyUpdate (Normal) is recorded on a Configuration when its
	// latestReadyRevisionName changes.
	ReasonLatestReadyUpdate = "LatestReadyUpdate"
	// ReasonLatestCreatedFailed (Warning) is recorded on a Configuration when its
	// latest created Revision fails (Ready=False, RevisionFailed) and is not its
	// latest ready one; ReasonLatestReadyFailed when it is.
	ReasonLatestCreatedFailed = "LatestCreatedFailed"
	ReasonLatestReadyFailed   = "LatestReadyFailed"
	// ReasonInternalError (Warning) is the error of a failed reconcile, as
	// Knative's generated reconcilers record it: on a Service when its
	// Configuration or Route cannot be created ("failed to create Route: …") or
	// updated ("failed to reconcile Route: …") or is not its own; on a
	// Configuration when its Revision cannot be created; on a Route when a
	// placeholder Service cannot be created or is not its own; on a Revision when
	// the backend fails to apply its Deployment or Service; and on an object any
	// other write of which fails.
	ReasonInternalError = "InternalError"
	// ReasonCreationFailed (Warning) is recorded, with InternalError, on the
	// parent whose child cannot be created: "Failed to create Configuration
	// %q: <err>" (or Route) on a Service, "Failed to create Revision: <err>" on a
	// Configuration, "Failed to create placeholder service %q: <err>" on a Route.
	ReasonCreationFailed = "CreationFailed"
	// ReasonUpdateFailed (Warning) is recorded on an object whose status cannot be
	// written: "Failed to update status for %q: <err>".
	ReasonUpdateFailed = "UpdateFailed"
	// ReasonRevisionReady (Normal) is recorded on a Revision when its Ready
	// condition becomes True (it was not True in the status last written).
	ReasonRevisionReady = "RevisionReady"
)

// recordCreated records that the store created child, on its parent (the API
// object of the child's controller owner).
func (s *Store) recordCreated(ref Ref, child *unstructured.Unstructured) {
	if s.opts.Recorder == nil {
		return
	}
	parent := ownerRefOf(ref, child)
	if parent.Resource == "" {
		return
	}
	if p, ok := s.cached(parent); ok {
		s.opts.Recorder.Eventf(p, corev1.EventTypeNormal, ReasonCreated, "Created %s %q", kindOf(ref.Resource), ref.Name)
	}
}

// ownerRefOf is the Ref of the API parent of an API child.
func ownerRefOf(ref Ref, child *unstructured.Unstructured) Ref {
	for _, o := range child.GetOwnerReferences() {
		if o.Controller == nil || !*o.Controller {
			continue
		}
		switch o.Kind {
		case v1.KindService:
			return Ref{Resource: ServicesGVR.Resource, Namespace: ref.Namespace, Name: o.Name}
		case v1.KindConfiguration:
			return Ref{Resource: ConfigurationsGVR.Resource, Namespace: ref.Namespace, Name: o.Name}
		}
	}
	return Ref{}
}

// recordStatusChange records the Events of an object whose status went from prev
// (an unstructured status, as last written or stored) to next: Knative's
// ConfigurationReady, LatestReadyUpdate, LatestCreatedFailed and LatestReadyFailed
// on a Configuration, RevisionReady on a Revision. Only a change records: the same
// status written again (a resync, a restarted controller) records nothing.
func (s *Store) recordStatusChange(ref Ref, cur *unstructured.Unstructured, prev, next any) {
	if s.opts.Recorder == nil {
		return
	}
	switch ref.Resource {
	case ConfigurationsGVR.Resource:
		s.recordConfigurationChange(cur, prev, next)
	case RevisionsGVR.Resource:
		// Knative's revision reconciler: when a reconcile finds the Revision
		// Ready and it was not before. (It records nothing when it stops being
		// ready, and only logs the Deployment, PodAutoscaler and image cache it
		// creates.)
		readyStatus := func(st any) any {
			if c := storedCondition(st, string(v1.ConditionReady)); c != nil {
				return c["status"]
			}
			return nil
		}
		if readyStatus(next) == "True" && readyStatus(prev) != "True" {
			s.opts.Recorder.Event(cur, corev1.EventTypeNormal, ReasonRevisionReady, "Revision becomes ready upon all resources being ready")
		}
	}
}

// recordConfigurationChange records the Events of a Configuration's status change
// (see recordStatusChange).
func (s *Store) recordConfigurationChange(cur *unstructured.Unstructured, prev, next any) {
	str := func(st any, key string) string {
		m, _ := st.(map[string]any)
		v, _ := m[key].(string)
		return v
	}
	oldReady, newReady := str(prev, "latestReadyRevisionName"), str(next, "latestReadyRevisionName")
	if newReady != oldReady && newReady != "" {
		if oldReady == "" {
			s.opts.Recorder.Event(cur, corev1.EventTypeNormal, ReasonConfigurationReady, "Configuration becomes ready")
		}
		s.opts.Recorder.Eventf(cur, corev1.EventTypeNormal, ReasonLatestReadyUpdate, "LatestReadyRevisionName updated to %q", newReady)
	}
	failed := func(st any) string { // the failed latest created revision, or ""
		c := storedCondition(st, string(v1.ConditionReady))
		if c == nil || c["status"] != "False" || c["reason"] != "RevisionFailed" {
			return ""
		}
		return str(st, "latestCreatedRevisionName")
	}
	if rev := failed(next); rev != "" && rev != failed(prev) {
		if rev == newReady {
			s.opts.Recorder.Eventf(cur, corev1.EventTypeWarning, ReasonLatestReadyFailed, "Latest ready revision %q has failed", rev)
		} else {
			s.opts.Recorder.Eventf(cur, corev1.EventTypeWarning, ReasonLatestCreatedFailed, "Latest created revision %q has failed", rev)
		}
	}
}

// writeError is a failed write with the Events Knative's reconcilers record for
// it, on the object on: a specific Warning (reason CreationFailed or
// UpdateFailed with message; none when reason is empty) and an InternalError with
// the message internal (none when empty). A writeError with neither records
// nothing: a step that will be retried (an orphan deleted, a parent not stored
// yet), not a failure anyone must see.
type writeError struct {
	err      error // what the store logs and retries on
	on       Ref
	reason   string
	message  string
	internal string
}

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// creationFailed is the writeError of a child the API server refused to create:
// CreationFailed and InternalError on its parent, in Knative's words.
func creationFailed(ref, parent Ref, err error) *writeError {
	kind := kindOf(ref.Resource)
	msg := fmt.Sprintf("Failed to create %s %q: %v", kind, ref.Name, err)
	if ref.Resource == RevisionsGVR.Resource {
		msg = fmt.Sprintf("Failed to create Revision: %v", err) // Knative names none
	}
	return &writeError{err: fmt.Errorf("store: create %s: %w", ref, err), on: parent,
		reason: ReasonCreationFailed, message: msg, internal: fmt.Sprintf("failed to create %s: %v", kind, err)}
}

// splitErrors returns the writeErrors in err (an errors.Join tree, or wrapped)
// and the errors that hold none.
func splitErrors(err error) (wes []*writeError, plain []error) {
	if err == nil {
		return nil, nil
	}
	if we, ok := err.(*writeError); ok {
		return []*writeError{we}, nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			w, p := splitErrors(e)
			wes, plain = append(wes, w...), append(plain, p...)
		}
		return wes, plain
	}
	var we *writeError
	if errors.As(err, &we) {
		return []*writeError{we}, nil
	}
	return nil, []error{err}
}

// recordError records the Events of a failed write of ref (see writeError; an
// error that is no writeError is an InternalError on ref's API object, with its
// message), once per new error message of ref; err nil (a write that succeeded)
// forgets the last message.
func (s *Store) recordError(ref Ref, err error) {
	if s.opts.Recorder == nil {
		return
	}
	s.mu.Lock()
	last, had := s.mu.lastError[ref]
	if err == nil {
		delete(s.mu.lastError, ref)
	} else {
		s.mu.lastError[ref] = err.Error()
	}
	s.mu.Unlock()
	if err == nil || (had && last == err.Error()) {
		return
	}
	wes, plain := splitErrors(err)
	for _, we := range wes {
		u, ok := s.cached(we.on)
		if !ok {
			continue
		}
		if we.reason != "" {
			s.opts.Recorder.Event(u, corev1.EventTypeWarning, we.reason, we.message)
		}
		if we.internal != "" {
			s.opts.Recorder.Event(u, corev1.EventTypeWarning, ReasonInternalError, we.internal)
		}
	}
	if len(plain) == 0 {
		return
	}
	if u, ok := s.cached(ref); ok {
		for _, e := range plain {
			s.opts.Recorder.Event(u, corev1.EventTypeWarning, ReasonInternalError, e.Error())
		}
	}
}

// recordPlaceholderCreated records Knative's Created Event of a placeholder
// Service on its Route.
func (s *Store) recordPlaceholderCreated(route Ref, name string) {
	if s.opts.Recorder == nil {
		return
	}
	if u, ok := s.cached(route); ok {
		s.opts.Recorder.Eventf(u, corev1.EventTypeNormal, ReasonCreated, "Created placeholder service %q", name)
	}
}
