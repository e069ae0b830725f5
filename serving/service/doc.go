// Package service turns a Knative Service into the Configuration and Route
// it manages, and folds their status back into the Service's, as Knative's
// Service reconciler does. Every function is pure: no I/O, the current
// time as an argument, results that share no map or slice with the inputs.
//
// A controller reconciling Service svc calls, in order:
//
//	desired := service.MakeConfigurationFromExisting(svc, cfg) // create, or ApplyConfiguration onto cfg
//	if !service.PropagateConfigurationStatus(svc, cfg, now) {
//		return // bring-your-own revision name: wait for the Configuration
//	}
//	// if revision.CheckName(cfg, existing) fails: svc.Status.MarkRevisionNameTaken(now, name); return
//	route := service.MakeRoute(svc)                             // create, or ApplyRoute onto the existing one
//	service.PropagateRouteStatus(svc, cfg, route, now)
//
// Ownership conflicts are reported with the serving/v1 helpers
// (svc.Status.MarkConfigurationNotOwned, MarkRouteNotOwned) after checking
// metav1.IsControlledBy.
package service
