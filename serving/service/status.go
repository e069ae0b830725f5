package service

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	v1 "github.com/servekit/servekit/serving/v1"
)

// PropagateConfigurationStatus folds cfg, the Configuration svc manages,
// into svc.Status, as Knative's Service reconciler does:
//
//   - if cfg has not yet observed its latest generation,
//     ConfigurationsReady becomes Unknown, reason OutOfDate, and the
//     latest created/ready names are left as they were;
//   - otherwise cfg's Ready condition is copied into ConfigurationsReady
//     (status, reason and message) and its latest created/ready revision
//     names into svc.Status.
//
// It returns false when the caller must stop reconciling svc for now: cfg
// is behind and its template has a bring-your-own revision name, so the
// Route must not move until that Revision exists (Knative serialises the
// two). Conditions change with lastTransitionTime now.
func PropagateConfigurationStatus(svc *v1.Service, cfg *v1.Configuration, now time.Time) bool {
	if cfg.Generation != cfg.Status.ObservedGeneration {
		svc.Status.MarkConfigurationNotReconciled(now)
		return cfg.Spec.Template.Name == ""
	}
	svc.Status.PropagateConfigurationStatus(now, &cfg.Status)
	return true
}

// PropagateRouteStatus folds route, the Route svc manages, into
// svc.Status, as Knative's Service reconciler does:
//
//   - if route has not yet observed its latest generation, RoutesReady
//     becomes Unknown, reason OutOfDate;
//   - otherwise route's Ready is copied into RoutesReady, and its url,
//     address and traffic into svc.Status;
//   - then, if RoutesReady is True, route's status traffic must be its
//     spec traffic with every entry that follows cfg replaced by cfg's
//     latest ready Revision (same length and order; url and
//     latestRevision ignored). If not, RoutesReady becomes Unknown,
//     reason TrafficNotMigrated, so that clients waiting for Ready wait
//     until the traffic has actually moved.
//
// Service Ready follows: True only when ConfigurationsReady and
// RoutesReady both are (the serving/v1 condition set). Conditions change
// with lastTransitionTime now.
func PropagateRouteStatus(svc *v1.Service, cfg *v1.Configuration, route *v1.Route, now time.Time) {
	ss := &svc.Status
	if route.Generation != route.Status.ObservedGeneration {
		ss.MarkRouteNotReconciled(now)
	} else {
		ss.PropagateRouteStatus(now, &route.Status)
	}
	if rc := ss.GetCondition(v1.ServiceConditionRoutesReady); rc == nil || rc.Status != corev1.ConditionTrue {
		return
	}
	if !trafficMigrated(cfg, route) {
		ss.MarkRouteNotYetReady(now)
	}
}

// trafficMigrated reports whether route's status traffic is its spec
// traffic with cfg's entries resolved to cfg's latest ready Revision.
func trafficMigrated(cfg *v1.Configuration, route *v1.Route) bool {
	want, got := route.Spec.Traffic, route.Status.Traffic
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		w := want[i]
		if w.ConfigurationName == cfg.Name {
			w.RevisionName = cfg.Status.LatestReadyRevisionName
			w.ConfigurationName = ""
		}
		g := got[i]
		if w.Tag != g.Tag || w.RevisionName != g.RevisionName || w.ConfigurationName != g.ConfigurationName ||
			!equalPtr(w.Percent, g.Percent) {
			return false
		}
	}
	return true
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
