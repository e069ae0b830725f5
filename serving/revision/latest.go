package revision

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/servekit/servekit/serving"
	v1 "github.com/servekit/servekit/serving/v1"
)

// Event is a Kubernetes event that Knative records on the Configuration
// while it updates the latest created and ready Revisions. The caller may
// record it, log it or drop it.
type Event struct {
	// Type is corev1.EventTypeNormal or corev1.EventTypeWarning.
	Type string
	// Reason is a CamelCase word, for example LatestReadyUpdate.
	Reason string
	// Message is the human-readable text.
	Message string
}

// UpdateLatest updates cfg.Status from the Revision stamped for its current
// generation (current, from Current or Snapshot) and cfg's Revisions (revs;
// other Revisions, and nil entries, are ignored; current need not be in
// revs). It is Knative's latest created / latest ready bookkeeping:
//
//  1. latestCreatedRevisionName becomes current; while it differs from
//     latestReadyRevisionName, Ready is Unknown.
//  2. If current's Ready is False, Ready becomes False, reason
//     RevisionFailed, `Revision "<name>" failed with message: <msg>.`.
//  3. The newest ready Revision becomes latestReadyRevisionName: the
//     bring-your-own named one first, then by configurationGeneration
//     label, newest first, never going back before the current latest
//     ready Revision while that one still exists. "Ready" is
//     Revision.IsReady: Ready True for the Revision's current generation.
//     When latest ready equals latest created, Ready becomes True.
//
// So a failed newest Revision leaves latestReadyRevisionName on the last
// good one, and traffic that follows the Configuration stays there, while
// the Configuration reports Ready False; a latest ready Revision that
// fails later stays latest ready (Routes then report it failed); a failed
// Revision that recovers brings Ready back to True; a deleted latest ready
// Revision is replaced by the newest ready one.
//
// It returns the events Knative records (ConfigurationReady,
// LatestCreatedFailed, LatestReadyFailed, LatestReadyUpdate), and an error,
// with cfg's status left after step 1, when current's Ready has a status
// other than True, False or Unknown. ObservedGeneration is not touched:
// that is the caller's reconcile wrapper.
//
// Ready's lastTransitionTime becomes now only when Ready ends up different
// from what it was on entry. Unlike Knative, which passes through Unknown
// in step 1, a Configuration whose latest Revision is still failed keeps
// its lastTransitionTime and gets no new failure event on every call.
func UpdateLatest(cfg *v1.Configuration, current *v1.Revision, revs []*v1.Revision, now time.Time) ([]Event, error) {
	if cfg == nil || current == nil {
		return nil, errors.New("revision: UpdateLatest needs a Configuration and its current Revision")
	}
	var events []Event
	cs := &cfg.Status
	name := current.Name
	before := cs.GetCondition(v1.ConfigurationConditionReady).DeepCopy()
	defer keepTransitionTime(cs, before)
	cs.SetLatestCreatedRevisionName(now, name)

	rc := current.Status.GetCondition(v1.RevisionConditionReady)
	switch {
	case rc.IsUnknown():
		// Still becoming ready: nothing more to say.
	case rc.IsTrue():
		if cs.LatestReadyRevisionName == "" {
			events = append(events, Event{corev1.EventTypeNormal, "ConfigurationReady", "Configuration becomes ready"})
		}
	case rc.IsFalse():
		cs.MarkLatestCreatedFailed(now, name, rc.Message)
		if !sameCondition(before, cs.GetCondition(v1.ConfigurationConditionReady)) {
			if name == cs.LatestReadyRevisionName {
				events = append(events, Event{corev1.EventTypeWarning, "LatestReadyFailed",
					fmt.Sprintf("Latest ready revision %q has failed", name)})
			} else {
				events = append(events, Event{corev1.EventTypeWarning, "LatestCreatedFailed",
					fmt.Sprintf("Latest created revision %q has failed", name)})
			}
		}
	default:
		return events, fmt.Errorf("unrecognized condition status: %v on revision %q", rc.Status, name)
	}

	for _, r := range candidates(cfg, current, revs) {
		if !r.IsReady() {
			continue
		}
		old := cs.LatestReadyRevisionName
		cs.SetLatestReadyRevisionName(now, r.Name)
		if old != r.Name {
			events = append(events, Event{corev1.EventTypeNormal, "LatestReadyUpdate",
				fmt.Sprintf("LatestReadyRevisionName updated to %q", r.Name)})
		}
		break
	}
	return events, nil
}

// sameCondition reports whether a and b are equal but for their
// lastTransitionTime.
func sameCondition(a, b *v1.Condition) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	x.LastTransitionTime = y.LastTransitionTime
	return x == y
}

// keepTransitionTime restores the lastTransitionTime of cs's Ready
// condition when, after all the steps of UpdateLatest, it ended up as it
// was before them. Knative passes through Unknown on the way and so moves
// the time (and re-emits the failure event) on every reconcile of a failed
// Configuration; servekit reports only net changes.
func keepTransitionTime(cs *v1.ConfigurationStatus, before *v1.Condition) {
	if after := cs.GetCondition(v1.ConfigurationConditionReady); before != nil && sameCondition(before, after) {
		after.LastTransitionTime = before.LastTransitionTime
	}
}

// candidates returns cfg's Revisions that may become latest ready, in the
// order they are tried: the bring-your-own named one first, then by
// generation, newest first (ties by name). current is always a candidate.
// When the current latest ready Revision exists, the others must have a
// generation from its own up to cfg's (or, when current has the
// bring-your-own name, current's generation), so latest ready never moves
// backwards.
func candidates(cfg *v1.Configuration, current *v1.Revision, revs []*v1.Revision) []*v1.Revision {
	own := make([]*v1.Revision, 0, len(revs)+1)
	own = append(own, current)
	for _, r := range revs {
		if r != nil && r.Name != current.Name && r.Namespace == cfg.Namespace &&
			r.Labels[serving.ConfigurationLabelKey] == cfg.Name {
			own = append(own, r)
		}
	}
	byo := cfg.Spec.Template.Name
	if lr := cfg.Status.LatestReadyRevisionName; lr != "" {
		if i := slices.IndexFunc(own, func(r *v1.Revision) bool { return r.Name == lr }); i >= 0 {
			start, ok := parseGeneration(own[i])
			if !ok {
				start = cfg.Generation
			}
			byoGen, byoOK := int64(0), false
			if byo != "" && current.Name == byo {
				byoGen, byoOK = parseGeneration(current)
			}
			own = slices.DeleteFunc(own, func(r *v1.Revision) bool {
				if r == current {
					return false
				}
				g, ok := parseGeneration(r)
				return !ok || !(start <= g && g <= cfg.Generation || byoOK && g == byoGen)
			})
		}
	}
	slices.SortFunc(own, func(a, b *v1.Revision) int {
		switch {
		case a.Name == b.Name:
			return 0
		case byo != "" && a.Name == byo:
			return -1
		case byo != "" && b.Name == byo:
			return 1
		}
		if ga, gb := generation(a), generation(b); ga != gb {
			if ga > gb {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return own
}

// parseGeneration reads a Revision's configurationGeneration label.
func parseGeneration(r *v1.Revision) (int64, bool) {
	g, err := strconv.ParseInt(r.Labels[serving.ConfigurationGenerationLabelKey], 10, 64)
	return g, err == nil
}

// generation is parseGeneration with 0 for a missing or bad label, as
// Knative's GetConfigurationGeneration.
func generation(r *v1.Revision) int64 {
	g, _ := parseGeneration(r)
	return g
}
