package gc

import (
	"slices"
	"strings"
	"time"

	"github.com/servekit/servekit/serving"
	v1 "github.com/servekit/servekit/serving/v1"
)

// Collect returns the names of the Revisions of owner that should be
// deleted now, oldest first (nil when there are none). It is Knative's
// revision GC for one Configuration, as a pure function of its inputs: it
// reads but never modifies owner and revs, and it does no I/O.
//
// revs may hold any Revisions; only those in owner's namespace labelled
// serving.knative.dev/configuration=<owner name> are considered (what
// Knative lists). The rules, in order:
//
//  1. With MaxNonActiveRevisions and both retain durations Disabled,
//     nothing is deleted.
//  2. With at most MinNonActiveRevisions Revisions in total, nothing is
//     deleted.
//  3. Active Revisions are never deleted: owner's latest ready Revision,
//     any annotated serving.knative.dev/no-gc: "true" (any case), and any
//     whose serving.knative.dev/routingState label is not "reserve"
//     (pending, active and unlabelled Revisions are in use). If at most
//     MinNonActiveRevisions remain, nothing is deleted.
//  4. The rest are walked from the least recently active (the
//     serving.knative.dev/routingStateModified annotation, or the creation
//     timestamp when it is missing or unparsable; ties by name). A Revision
//     is stale when it is at least RetainSinceCreateTime old and at least
//     RetainSinceLastActiveTime past its last activity (a Disabled check
//     always passes; with both Disabled nothing is stale). Stale ones are
//     deleted while more than MinNonActiveRevisions remain.
//  5. If more than MaxNonActiveRevisions non-stale ones are left, the
//     least recently active of them are deleted down to that number.
func Collect(c Config, owner *v1.Configuration, revs []*v1.Revision, now time.Time) []string {
	if owner == nil {
		return nil
	}
	minKeep, maxKeep := c.MinNonActiveRevisions, c.MaxNonActiveRevisions
	if maxKeep == Disabled && c.RetainSinceCreateTime == Disabled && c.RetainSinceLastActiveTime == Disabled {
		return nil
	}

	type candidate struct {
		name       string
		created    time.Time
		lastActive time.Time
	}
	var total int64
	nonActive := make([]candidate, 0, len(revs))
	for _, r := range revs {
		if r == nil || r.Namespace != owner.Namespace || r.Labels[serving.ConfigurationLabelKey] != owner.Name {
			continue
		}
		total++
		if isActive(r, owner) {
			continue
		}
		nonActive = append(nonActive, candidate{
			name:       r.Name,
			created:    r.CreationTimestamp.Time,
			lastActive: lastActiveTime(r),
		})
	}
	if total <= minKeep || int64(len(nonActive)) <= minKeep {
		return nil
	}
	slices.SortFunc(nonActive, func(a, b candidate) int {
		if n := a.lastActive.Compare(b.lastActive); n != 0 {
			return n
		}
		return strings.Compare(a.name, b.name)
	})

	var deleted []string
	remaining := int64(len(nonActive))
	nonStale := nonActive[:0]
	for _, r := range nonActive {
		switch {
		case remaining <= minKeep:
			// At most min are left, and min <= max: the cap cannot apply.
			return deleted
		case isStale(c, r.created, r.lastActive, now):
			deleted = append(deleted, r.name)
			remaining--
		default:
			nonStale = append(nonStale, r)
		}
	}
	if maxKeep == Disabled || int64(len(nonStale)) <= maxKeep {
		return deleted
	}
	for _, r := range nonStale[:int64(len(nonStale))-max(maxKeep, 0)] {
		deleted = append(deleted, r.name)
	}
	return deleted
}

// isActive reports whether r is in use and so must never be collected.
func isActive(r *v1.Revision, owner *v1.Configuration) bool {
	if r.Name == owner.Status.LatestReadyRevisionName {
		return true
	}
	if strings.EqualFold(r.Annotations[serving.RevisionPreservedAnnotationKey], "true") {
		return true
	}
	return r.Labels[serving.RoutingStateLabelKey] != serving.RoutingStateReserve
}

// lastActiveTime is when r's routing state last changed, falling back to
// its creation time.
func lastActiveTime(r *v1.Revision) time.Time {
	if s := r.Annotations[serving.RoutingStateModifiedAnnotationKey]; s != "" {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t
		}
	}
	return r.CreationTimestamp.Time
}

func isStale(c Config, created, lastActive, now time.Time) bool {
	sinceCreate, sinceActive := c.RetainSinceCreateTime, c.RetainSinceLastActiveTime
	if sinceCreate == Disabled && sinceActive == Disabled {
		return false
	}
	if sinceCreate != Disabled && now.Sub(created) < sinceCreate {
		return false
	}
	if sinceActive != Disabled && now.Sub(lastActive) < sinceActive {
		return false
	}
	return true
}
