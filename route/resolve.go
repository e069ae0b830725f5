package route

import (
	"errors"
	"fmt"
)

// Status is a Kubernetes-style condition status. The zero value is
// StatusUnknown.
type Status int8

// The three condition statuses.
const (
	StatusUnknown Status = iota // not decided yet (zero value)
	StatusTrue                  // the condition holds
	StatusFalse                 // the condition failed
)

// Configuration is what resolution needs to know about a Configuration.
type Configuration struct {
	// LatestReadyRevisionName is status.latestReadyRevisionName; empty means
	// the Configuration has no ready Revision yet.
	LatestReadyRevisionName string
	// Ready is the Configuration's Ready condition; StatusFalse turns "no
	// ready Revision yet" into a failure.
	Ready Status
}

// Revision is what resolution needs to know about a Revision.
type Revision struct {
	// Ready is the Revision's Ready condition (it must also be for the
	// current generation; the caller folds that in). Only StatusTrue can
	// receive traffic; StatusFalse is a failure, StatusUnknown a wait.
	Ready Status
	// ConfigurationName is the Revision's serving.knative.dev/configuration
	// label; empty means the Revision has none.
	ConfigurationName string
	// ServiceName is the Revision's serving.knative.dev/service label; empty
	// means none.
	ServiceName string
}

// Lookup answers questions about the Configurations and Revisions in the
// Route's namespace. The bool is false when the object does not exist.
// Implementations are the caller's (a lister, a map); see MapLookup.
type Lookup interface {
	// Configuration returns the named Configuration, or false if there is
	// none.
	Configuration(name string) (Configuration, bool)
	// Revision returns the named Revision, or false if there is none.
	Revision(name string) (Revision, bool)
}

// MapLookup is a Lookup over two maps. Nil maps hold nothing.
type MapLookup struct {
	// Configurations by name; nil holds none.
	Configurations map[string]Configuration
	// Revisions by name; nil holds none.
	Revisions map[string]Revision
}

// Configuration implements Lookup.
func (m MapLookup) Configuration(name string) (Configuration, bool) {
	c, ok := m.Configurations[name]
	return c, ok
}

// Revision implements Lookup.
func (m MapLookup) Revision(name string) (Revision, bool) {
	r, ok := m.Revisions[name]
	return r, ok
}

// Reasons of a TargetError, as Knative sets them on the Route's
// AllTrafficAssigned condition.
const (
	ReasonRevisionMissing      = "RevisionMissing"
	ReasonConfigurationMissing = "ConfigurationMissing"
	ReasonRevisionNotOwned     = "RevisionNotOwned"
)

// Sentinel errors a *TargetError matches with errors.Is, one per reason.
var (
	ErrRevisionMissing      = errors.New("route: revision missing")
	ErrConfigurationMissing = errors.New("route: configuration missing")
	ErrRevisionNotOwned     = errors.New("route: revision not owned")
)

// TargetError says why a traffic target cannot receive traffic yet (or at
// all). It carries what the Route's AllTrafficAssigned condition needs.
type TargetError struct {
	// Index is the target's index in spec.traffic.
	Index int
	// Name is the Configuration or Revision the message names.
	Name string
	// Reason is ReasonRevisionMissing, ReasonConfigurationMissing or
	// ReasonRevisionNotOwned.
	Reason string
	// Message is Knative's condition message, e.g.
	// `Revision "hello-00002" is not yet ready.`
	Message string
	// Failed is true when the condition is False (the target is missing,
	// failed or not owned) and false when it is Unknown (still waiting).
	Failed bool
}

// Error implements error.
func (e *TargetError) Error() string {
	return fmt.Sprintf("route: spec.traffic[%d]: %s: %s", e.Index, e.Reason, e.Message)
}

// Is matches the sentinel error of the reason.
func (e *TargetError) Is(target error) bool {
	switch e.Reason {
	case ReasonRevisionMissing:
		return target == ErrRevisionMissing
	case ReasonConfigurationMissing:
		return target == ErrConfigurationMissing
	case ReasonRevisionNotOwned:
		return target == ErrRevisionNotOwned
	}
	return false
}

// ResolvedTarget is a traffic target with its revision filled in.
type ResolvedTarget struct {
	// Tag is the target's tag; empty for untagged targets.
	Tag string
	// RevisionName is the revision that receives the traffic.
	RevisionName string
	// ConfigurationName is the configuration the revision belongs to; empty
	// for a pinned revision without a configuration label.
	ConfigurationName string
	// LatestRevision is true when the target follows the configuration's
	// latest ready revision (and may take part in a gradual rollout).
	LatestRevision bool
	// Percent is the share, 0..100.
	Percent int64
}

// Traffic is the result of resolving a Route's targets.
type Traffic struct {
	// Targets is Knative's status.traffic: one entry per spec target in spec
	// order, with entries that share tag, revision and latestRevision merged
	// (percents added); 0% entries are kept.
	Targets []ResolvedTarget
	// Groups maps a traffic name to its weighted revisions: "" is the
	// default host (every target), a tag its own host (only its target).
	// Each group is consolidated by revision (percents added, the first
	// entry's other fields kept), and a group with a single revision is
	// forced to 100%.
	Groups map[string][]ResolvedTarget
}

// Tags returns the tags of the traffic, in spec order.
func (t Traffic) Tags() []string {
	var tags []string
	seen := map[string]bool{}
	for _, rt := range t.Targets {
		if rt.Tag != "" && !seen[rt.Tag] {
			seen[rt.Tag] = true
			tags = append(tags, rt.Tag)
		}
	}
	return tags
}

// Resolve resolves targets to revisions the way Knative's route reconciler
// does (knative.dev/serving/pkg/reconciler/route/traffic/traffic.go):
//
//   - a configuration target (latestRevision) follows the configuration's
//     latest ready revision, which must exist and be ready;
//   - a pinned revision must exist and be ready; its configuration label, if
//     any, names a configuration that must exist;
//   - whether a revision is scaled to zero does not matter.
//
// Every target is looked up even after a problem; the error returned is the
// last failure (missing, failed), or else the first wait (not ready yet), as a
// *TargetError. On error the Traffic is empty.
//
// Targets are expected to be valid (ValidateTargets). A target naming neither
// a revision nor a configuration (possible inside a Service before the
// Service's configuration is filled in) is skipped.
func Resolve(targets []Target, lookup Lookup) (Traffic, error) {
	return ResolveOwned("", targets, lookup)
}

// ResolveOwned is Resolve for a Route that belongs to the Service named
// service (the Route's serving.knative.dev/service label): a pinned revision
// must carry the same service label, else the target fails with
// ReasonRevisionNotOwned. An empty service disables the check.
func ResolveOwned(service string, targets []Target, lookup Lookup) (Traffic, error) {
	var (
		flat []ResolvedTarget
		terr *TargetError
	)
	deferErr := func(e *TargetError) {
		if terr == nil || e.Failed {
			terr = e
		}
	}
	for i, t := range targets {
		rt, e := resolveOne(i, t, service, lookup)
		if e != nil {
			deferErr(e)
			continue
		}
		if rt != nil {
			flat = append(flat, *rt)
		}
	}
	if terr != nil {
		return Traffic{}, terr
	}
	out := Traffic{Groups: map[string][]ResolvedTarget{}}
	for _, rt := range flat {
		out.Targets = mergeStatus(out.Targets, rt)
		out.Groups[""] = append(out.Groups[""], rt)
		if rt.Tag != "" {
			out.Groups[rt.Tag] = append(out.Groups[rt.Tag], rt)
		}
	}
	for name, g := range out.Groups {
		out.Groups[name] = consolidate(g)
	}
	return out, nil
}

func resolveOne(i int, t Target, service string, lookup Lookup) (*ResolvedTarget, *TargetError) {
	rt := &ResolvedTarget{Tag: t.Tag, LatestRevision: t.FollowsLatest(), Percent: t.EffectivePercent()}
	switch {
	case t.RevisionName != "":
		rev, ok := lookup.Revision(t.RevisionName)
		if !ok {
			return nil, missingRevision(i, t.RevisionName)
		}
		if service != "" && rev.ServiceName != service {
			e := &TargetError{Index: i, Name: t.RevisionName, Reason: ReasonRevisionNotOwned, Failed: true}
			if rev.ServiceName != "" {
				e.Message = fmt.Sprintf("Revision %q belongs to Service %q, not Service %q.", t.RevisionName, rev.ServiceName, service)
			} else {
				e.Message = fmt.Sprintf("Revision %q does not belong to Service %q.", t.RevisionName, service)
			}
			return nil, e
		}
		if e := revisionReady(i, t.RevisionName, rev); e != nil {
			return nil, e
		}
		rt.RevisionName = t.RevisionName
		if rev.ConfigurationName != "" {
			rt.ConfigurationName = rev.ConfigurationName
			if _, ok := lookup.Configuration(rev.ConfigurationName); !ok {
				return nil, missingConfiguration(i, rev.ConfigurationName)
			}
		}
		return rt, nil
	case t.ConfigurationName != "":
		cfg, ok := lookup.Configuration(t.ConfigurationName)
		if !ok {
			return nil, missingConfiguration(i, t.ConfigurationName)
		}
		if cfg.LatestReadyRevisionName == "" {
			e := &TargetError{Index: i, Name: t.ConfigurationName, Reason: ReasonRevisionMissing}
			if cfg.Ready == StatusFalse {
				e.Failed = true
				e.Message = fmt.Sprintf("Configuration %q does not have any ready Revision.", t.ConfigurationName)
			} else {
				e.Message = fmt.Sprintf("Configuration %q is waiting for a Revision to become ready.", t.ConfigurationName)
			}
			return nil, e
		}
		rev, ok := lookup.Revision(cfg.LatestReadyRevisionName)
		if !ok {
			return nil, missingRevision(i, cfg.LatestReadyRevisionName)
		}
		if e := revisionReady(i, cfg.LatestReadyRevisionName, rev); e != nil {
			return nil, e
		}
		rt.RevisionName = cfg.LatestReadyRevisionName
		rt.ConfigurationName = t.ConfigurationName
		return rt, nil
	}
	return nil, nil
}

func revisionReady(i int, name string, rev Revision) *TargetError {
	switch rev.Ready {
	case StatusTrue:
		return nil
	case StatusFalse:
		return &TargetError{Index: i, Name: name, Reason: ReasonRevisionMissing, Failed: true,
			Message: fmt.Sprintf("Revision %q failed to become ready.", name)}
	default:
		return &TargetError{Index: i, Name: name, Reason: ReasonRevisionMissing,
			Message: fmt.Sprintf("Revision %q is not yet ready.", name)}
	}
}

func missingRevision(i int, name string) *TargetError {
	return &TargetError{Index: i, Name: name, Reason: ReasonRevisionMissing, Failed: true,
		Message: fmt.Sprintf("Revision %q referenced in traffic not found.", name)}
}

func missingConfiguration(i int, name string) *TargetError {
	return &TargetError{Index: i, Name: name, Reason: ReasonConfigurationMissing, Failed: true,
		Message: fmt.Sprintf("Configuration %q referenced in traffic not found.", name)}
}

// mergeStatus appends rt to the status list, or adds its percent to an
// existing entry with the same tag, revision and latestRevision.
func mergeStatus(list []ResolvedTarget, rt ResolvedTarget) []ResolvedTarget {
	for i := range list {
		if list[i].Tag == rt.Tag && list[i].RevisionName == rt.RevisionName && list[i].LatestRevision == rt.LatestRevision {
			list[i].Percent += rt.Percent
			return list
		}
	}
	return append(list, rt)
}

// consolidate merges a group's entries by revision (first entry's fields
// win) and forces a single-revision group to 100%.
func consolidate(g []ResolvedTarget) []ResolvedTarget {
	var out []ResolvedTarget
	idx := map[string]int{}
	for _, rt := range g {
		if j, ok := idx[rt.RevisionName]; ok {
			out[j].Percent += rt.Percent
			continue
		}
		idx[rt.RevisionName] = len(out)
		out = append(out, rt)
	}
	if len(out) == 1 {
		out[0].Percent = 100
	}
	return out
}
