// Package revision stamps immutable Revisions out of Configurations, the
// way Knative's configuration reconciler does: one Revision per
// Configuration generation, named "<config>-00001", "<config>-00002", ...
// (or the bring-your-own name of the template), labelled and annotated so
// that the rest of the system can find its Configuration, Service and
// routing state.
//
// Every function is pure: it reads its arguments, never keeps them, takes
// the current time as an argument, and returns fresh objects that share no
// map or slice with its inputs. A controller calls them on every
// reconcile:
//
//	rev, err := revision.Current(cfg, revs)       // the Revision for cfg's generation, if any
//	if rev == nil && err == nil {
//		rev, err = revision.Snapshot(cfg, now) // stamp it, then create it
//	}
//	events, err := revision.UpdateLatest(cfg, rev, revs, now) // latest created / ready
//
// and, for each Route, SyncRoutingState to keep the Revisions' routing
// state (pending, active, reserve) in step with the traffic, which is what
// the garbage collector in package gc reads.
package revision
