package store

import (
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
	// ReasonInternalError (Warning) is recorded on an object whose write to the
	// API server fails, once per new error message; on a Revision also when the
	// backend fails to apply its Deployment or Service.
	ReasonInternalError = "InternalError"
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

// recordError records a failed write of ref as an InternalError Event on its API
// object, once per new message; err nil (a write that succeeded) forgets the last
// message.
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
	if u, ok := s.cached(ref); ok {
		s.opts.Recorder.Event(u, corev1.EventTypeWarning, ReasonInternalError, fmt.Sprint(err))
	}
}
