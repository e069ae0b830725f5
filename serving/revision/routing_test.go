package revision

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/serving"
	v1 "github.com/servekit/servekit/serving/v1"
)

var earlier = now.Add(-time.Hour)

// routedRev is Revision name of Configuration "hello", controlled by it,
// in the given routing state since earlier, listing routes ("" = none).
func routedRev(name, state, routes string) *v1.Revision {
	yes := true
	r := &v1.Revision{ObjectMeta: metav1.ObjectMeta{
		Name:      name,
		Namespace: "default",
		Labels: map[string]string{
			serving.ConfigurationLabelKey: "hello",
			serving.RoutingStateLabelKey:  state,
		},
		Annotations: map[string]string{
			serving.RoutingStateModifiedAnnotationKey: RoutingStateModifiedString(earlier),
		},
		OwnerReferences: []metav1.OwnerReference{{Kind: "Configuration", Name: "hello", Controller: &yes}},
	}}
	if routes != "" {
		r.Annotations[serving.RoutesAnnotationKey] = routes
	}
	return r
}

func routedConfig(name, latestCreated, routes string) *v1.Configuration {
	c := &v1.Configuration{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	c.Status.LatestCreatedRevisionName = latestCreated
	if routes != "" {
		c.Annotations = map[string]string{serving.RoutesAnnotationKey: routes}
	}
	return c
}

// route is Route "hello"; ready says whether its Ready condition is True
// for its generation.
func route(ready bool, spec, status []v1.TrafficTarget) *v1.Route {
	r := &v1.Route{ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default", Generation: 1}}
	r.Spec.Traffic = spec
	r.Status.Traffic = status
	r.Status.ObservedGeneration = 1
	st := corev1.ConditionUnknown
	if ready {
		st = corev1.ConditionTrue
	}
	r.Status.Conditions = v1.Conditions{{Type: v1.RouteConditionReady, Status: st}}
	return r
}

func latest(cfg string, pct int64) v1.TrafficTarget {
	return v1.TrafficTarget{ConfigurationName: cfg, LatestRevision: ptr(true), Percent: ptr(pct)}
}

func pinned(rev string, pct int64) v1.TrafficTarget {
	return v1.TrafficTarget{RevisionName: rev, LatestRevision: ptr(false), Percent: ptr(pct)}
}

func TestSyncRoutingState(t *testing.T) {
	stamp := RoutingStateModifiedString(now)
	// withState returns r with routing state s set at now and routes.
	withState := func(r *v1.Revision, s, routes string) *v1.Revision {
		r = r.DeepCopy()
		if r.Labels[serving.RoutingStateLabelKey] != s {
			r.Labels[serving.RoutingStateLabelKey] = s
			r.Annotations[serving.RoutingStateModifiedAnnotationKey] = stamp
		}
		if routes == "" {
			delete(r.Annotations, serving.RoutesAnnotationKey)
		} else {
			r.Annotations[serving.RoutesAnnotationKey] = routes
		}
		return r
	}
	withRoutes := func(c *v1.Configuration, routes string) *v1.Configuration {
		c = c.DeepCopy()
		if routes == "" {
			delete(c.Annotations, serving.RoutesAnnotationKey)
			return c
		}
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[serving.RoutesAnnotationKey] = routes
		return c
	}

	seedCfg := routedConfig("hello", "hello-00001", "hello")
	seedRev := routedRev("hello-00001", serving.RoutingStateActive, "hello")

	tests := []struct {
		name  string
		route *v1.Route
		cfgs  []*v1.Configuration
		revs  []*v1.Revision
		want  RoutingChanges
	}{{
		name:  "seed steady state: nothing to change",
		route: route(true, []v1.TrafficTarget{latest("hello", 100)}, []v1.TrafficTarget{{RevisionName: "hello-00001", LatestRevision: ptr(true), Percent: ptr[int64](100)}}),
		cfgs:  []*v1.Configuration{seedCfg},
		revs:  []*v1.Revision{seedRev},
	}, {
		name:  "a standalone pending revision that gets referenced becomes active",
		route: route(false, []v1.TrafficTarget{pinned("hello-00001", 100)}, nil),
		cfgs:  []*v1.Configuration{routedConfig("hello", "hello-00001", "")},
		revs:  []*v1.Revision{routedRev("hello-00001", serving.RoutingStatePending, "")},
		want: RoutingChanges{
			Configurations: []*v1.Configuration{withRoutes(routedConfig("hello", "hello-00001", ""), "hello")},
			Revisions:      []*v1.Revision{withState(routedRev("hello-00001", serving.RoutingStatePending, ""), serving.RoutingStateActive, "hello")},
		},
	}, {
		name:  "the latest created revision is warmed up before it is ready",
		route: route(false, []v1.TrafficTarget{latest("hello", 100)}, []v1.TrafficTarget{{RevisionName: "hello-00001", LatestRevision: ptr(true), Percent: ptr[int64](100)}}),
		cfgs:  []*v1.Configuration{routedConfig("hello", "hello-00002", "hello")},
		revs: []*v1.Revision{
			seedRev,
			routedRev("hello-00002", serving.RoutingStatePending, ""),
		},
		want: RoutingChanges{Revisions: []*v1.Revision{
			withState(routedRev("hello-00002", serving.RoutingStatePending, ""), serving.RoutingStateActive, "hello"),
		}},
	}, {
		name:  "route not ready yet: the old revision is not released",
		route: route(false, []v1.TrafficTarget{latest("hello", 100)}, []v1.TrafficTarget{{RevisionName: "hello-00002", LatestRevision: ptr(true), Percent: ptr[int64](100)}}),
		cfgs:  []*v1.Configuration{routedConfig("hello", "hello-00002", "hello")},
		revs: []*v1.Revision{
			seedRev,
			routedRev("hello-00002", serving.RoutingStateActive, "hello"),
		},
	}, {
		name:  "route ready on the new revision: the old one goes to reserve",
		route: route(true, []v1.TrafficTarget{latest("hello", 100)}, []v1.TrafficTarget{{RevisionName: "hello-00002", LatestRevision: ptr(true), Percent: ptr[int64](100)}}),
		cfgs:  []*v1.Configuration{routedConfig("hello", "hello-00002", "hello")},
		revs: []*v1.Revision{
			seedRev,
			routedRev("hello-00002", serving.RoutingStateActive, "hello"),
		},
		want: RoutingChanges{Revisions: []*v1.Revision{
			withState(seedRev, serving.RoutingStateReserve, ""),
		}},
	}, {
		name:  "another route keeps the old revision active",
		route: route(true, []v1.TrafficTarget{latest("hello", 100)}, []v1.TrafficTarget{{RevisionName: "hello-00002", LatestRevision: ptr(true), Percent: ptr[int64](100)}}),
		cfgs:  []*v1.Configuration{routedConfig("hello", "hello-00002", "hello")},
		revs: []*v1.Revision{
			routedRev("hello-00001", serving.RoutingStateActive, "canary,hello"),
			routedRev("hello-00002", serving.RoutingStateActive, "hello"),
		},
		want: RoutingChanges{Revisions: []*v1.Revision{
			withState(routedRev("hello-00001", serving.RoutingStateActive, "canary,hello"), serving.RoutingStateActive, "canary"),
		}},
	}, {
		name: "a pinned revision keeps its configuration referenced, routes are merged sorted",
		route: route(true, []v1.TrafficTarget{pinned("hello-00001", 100)},
			[]v1.TrafficTarget{{RevisionName: "hello-00001", LatestRevision: ptr(false), Percent: ptr[int64](100)}}),
		cfgs: []*v1.Configuration{routedConfig("hello", "hello-00002", "zzz,aaa")},
		revs: []*v1.Revision{
			routedRev("hello-00001", serving.RoutingStateReserve, ""),
			routedRev("hello-00002", serving.RoutingStateActive, "aaa"),
		},
		want: RoutingChanges{
			Configurations: []*v1.Configuration{withRoutes(routedConfig("hello", "hello-00002", "zzz,aaa"), "aaa,hello,zzz")},
			Revisions:      []*v1.Revision{withState(routedRev("hello-00001", serving.RoutingStateReserve, ""), serving.RoutingStateActive, "hello")},
		},
	}, {
		name:  "configurations no longer referenced lose the route once it is ready",
		route: route(true, []v1.TrafficTarget{latest("other", 100)}, nil),
		cfgs: []*v1.Configuration{
			routedConfig("hello", "", "hello"),
			routedConfig("other", "", ""),
		},
		want: RoutingChanges{Configurations: []*v1.Configuration{
			withRoutes(routedConfig("hello", "", "hello"), ""),
			withRoutes(routedConfig("other", "", ""), "hello"),
		}},
	}, {
		name:  "missing targets and other namespaces are ignored; reserve revisions are not touched",
		route: route(true, []v1.TrafficTarget{pinned("gone-00001", 50), latest("gone", 50)}, nil),
		cfgs: []*v1.Configuration{
			func() *v1.Configuration { c := routedConfig("gone", "", "hello"); c.Namespace = "prod"; return c }(),
		},
		revs: []*v1.Revision{
			func() *v1.Revision {
				r := routedRev("gone-00001", serving.RoutingStateActive, "hello")
				r.Namespace = "prod"
				return r
			}(),
			routedRev("hello-00009", serving.RoutingStateReserve, "hello"),
			nil,
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cfgsBefore []*v1.Configuration
			for _, c := range tc.cfgs {
				cfgsBefore = append(cfgsBefore, c.DeepCopy())
			}
			var revsBefore []*v1.Revision
			for _, r := range tc.revs {
				revsBefore = append(revsBefore, r.DeepCopy())
			}
			got := SyncRoutingState(tc.route, tc.cfgs, tc.revs, now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SyncRoutingState (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(cfgsBefore, tc.cfgs); diff != "" {
				t.Errorf("SyncRoutingState modified its configurations (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(revsBefore, tc.revs); diff != "" {
				t.Errorf("SyncRoutingState modified its revisions (-before +after):\n%s", diff)
			}
		})
	}
}

func TestForgetRoute(t *testing.T) {
	cfgs := []*v1.Configuration{routedConfig("hello", "", "hello"), routedConfig("other", "", "other")}
	revs := []*v1.Revision{
		routedRev("hello-00001", serving.RoutingStateActive, "hello"),
		routedRev("hello-00002", serving.RoutingStateActive, "canary,hello"),
		routedRev("hello-00003", serving.RoutingStatePending, "hello"),
	}
	got := ForgetRoute("default", "hello", cfgs, revs, now)

	wantCfg := cfgs[0].DeepCopy()
	delete(wantCfg.Annotations, serving.RoutesAnnotationKey)
	r1 := revs[0].DeepCopy()
	delete(r1.Annotations, serving.RoutesAnnotationKey)
	r1.Labels[serving.RoutingStateLabelKey] = serving.RoutingStateReserve
	r1.Annotations[serving.RoutingStateModifiedAnnotationKey] = RoutingStateModifiedString(now)
	r2 := revs[1].DeepCopy()
	r2.Annotations[serving.RoutesAnnotationKey] = "canary"
	want := RoutingChanges{
		Configurations: []*v1.Configuration{wantCfg},
		Revisions:      []*v1.Revision{r1, r2}, // pending revisions are not cleaned, as in Knative
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ForgetRoute (-want +got):\n%s", diff)
	}
	if got := ForgetRoute("prod", "hello", cfgs, revs, now); got.Configurations != nil || got.Revisions != nil {
		t.Errorf("ForgetRoute in another namespace = %+v, want no changes", got)
	}
}

func BenchmarkSyncRoutingState(b *testing.B) {
	var revs []*v1.Revision
	for i := range 100 {
		state, routes := serving.RoutingStateReserve, ""
		if i >= 98 {
			state, routes = serving.RoutingStateActive, "hello"
		}
		revs = append(revs, routedRev(fmt.Sprintf("hello-%05d", i+1), state, routes))
	}
	cfgs := []*v1.Configuration{routedConfig("hello", "hello-00100", "hello")}
	r := route(true, []v1.TrafficTarget{latest("hello", 100)},
		[]v1.TrafficTarget{{RevisionName: "hello-00099", LatestRevision: ptr(true), Percent: ptr[int64](100)}})
	b.ReportAllocs()
	for b.Loop() {
		SyncRoutingState(r, cfgs, revs, now)
	}
}
