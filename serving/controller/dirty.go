package controller

import (
	"maps"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/servekit/servekit/serving/v1"
)

// keySet is a set of object keys.
type keySet map[types.NamespacedName]struct{}

func (s keySet) add(key types.NamespacedName) { s[key] = struct{}{} }

// take empties s and returns what it held.
func (s keySet) take() keySet {
	out := maps.Clone(s)
	clear(s)
	return out
}

// dirtySet holds, per kind, the objects the next reconcile pass must reconcile
// (see Controller.reconcile). Guarded by Controller.mu.
type dirtySet struct {
	svcs, cfgs, routes, revs keySet
	// table is set when a Route's table entry changed or went.
	table bool
}

func newDirtySet() dirtySet {
	return dirtySet{svcs: keySet{}, cfgs: keySet{}, routes: keySet{}, revs: keySet{}}
}

func (d *dirtySet) any() bool {
	return len(d.svcs)+len(d.cfgs)+len(d.routes)+len(d.revs) > 0
}

// routeRefs indexes Routes by the Configurations and Revisions their spec
// traffic names, so that a change of one marks only the Routes that read it.
// Guarded by Controller.mu.
type routeRefs struct {
	// byCfg and byRev map a Configuration's or Revision's key to the Routes
	// naming it.
	byCfg, byRev map[types.NamespacedName]keySet
}

func newRouteRefs() routeRefs {
	return routeRefs{byCfg: map[types.NamespacedName]keySet{}, byRev: map[types.NamespacedName]keySet{}}
}

// set replaces what rt (nil: a deleted Route) references; old is what the Route
// key referenced before (nil if nothing).
func (r *routeRefs) set(key types.NamespacedName, old, rt *v1.Route) {
	edit := func(rt *v1.Route, add bool) {
		if rt == nil {
			return
		}
		for _, tt := range rt.Spec.Traffic {
			for _, ref := range []struct {
				name string
				m    map[types.NamespacedName]keySet
			}{{tt.ConfigurationName, r.byCfg}, {tt.RevisionName, r.byRev}} {
				if ref.name == "" {
					continue
				}
				k := nsKey(key.Namespace, ref.name)
				switch {
				case add && ref.m[k] == nil:
					ref.m[k] = keySet{key: {}}
				case add:
					ref.m[k].add(key)
				default:
					delete(ref.m[k], key)
					if len(ref.m[k]) == 0 {
						delete(ref.m, k)
					}
				}
			}
		}
	}
	edit(old, false)
	edit(rt, true)
}

// markRoutes marks dirty the Routes whose spec names the Revision (rev) or the
// Configuration (!rev) obj.
func (r *routeRefs) markRoutes(d *dirtySet, obj types.NamespacedName, rev bool) {
	m := r.byCfg
	if rev {
		m = r.byRev
	}
	for key := range m[obj] {
		d.routes.add(key)
	}
}

// setRouteLocked stores a Route (created or changed), indexes what it
// references and marks it dirty.
func (c *Controller) setRouteLocked(key types.NamespacedName, rt *v1.Route) {
	c.mu.refs.set(key, c.mu.routes[key], rt)
	c.mu.routes[key] = rt
	c.mu.dirty.routes.add(key)
}

// deleteRouteLocked forgets a Route, its table entry and its rollout.
func (c *Controller) deleteRouteLocked(key types.NamespacedName) {
	c.mu.refs.set(key, c.mu.routes[key], nil)
	delete(c.mu.routes, key)
	delete(c.mu.entries, key)
	delete(c.mu.rollouts, key)
	delete(c.mu.rolling, key)
	c.mu.dirty.table = true
}

// resyncAllLocked makes the next reconcile pass a full resync: a config that every
// object reads changed.
func (c *Controller) resyncAllLocked() {
	c.mu.lastFull = time.Time{}
}

// pendingRevs collects the revisions whose pods, scale or panic mode changed, from
// callers that must not take Controller.mu (the backend's notifications, the
// autoscaler's tick): the next pass reconciles them.
type pendingRevs struct {
	mu   sync.Mutex
	revs keySet
}

// markPending records that key's revision changed and asks for a reconcile.
func (c *Controller) markPending(key types.NamespacedName) {
	c.pend.mu.Lock()
	if c.pend.revs == nil {
		c.pend.revs = keySet{}
	}
	c.pend.revs.add(key)
	c.pend.mu.Unlock()
	c.kick()
}

// takePending returns and forgets the pending revisions.
func (c *Controller) takePending() keySet {
	c.pend.mu.Lock()
	defer c.pend.mu.Unlock()
	out := c.pend.revs
	c.pend.revs = nil
	return out
}
