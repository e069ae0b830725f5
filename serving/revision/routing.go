package revision

import (
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/serving"
	v1 "github.com/servekit/servekit/serving/v1"
)

// RoutingChanges are the objects whose routing metadata must change: deep
// copies, already changed, for the caller to write back. Objects that need
// no change are not listed.
type RoutingChanges struct {
	// Configurations whose serving.knative.dev/routes annotation changes.
	Configurations []*v1.Configuration
	// Revisions whose routes annotation or routing state changes.
	Revisions []*v1.Revision
}

// SyncRoutingState is Knative's routing-state labeler for one Route, as a
// pure function. It works out what route references, walking its status
// traffic and then its spec traffic:
//
//   - a named Revision that exists, and the Configuration that controls
//     it;
//   - a named Configuration that exists and, for a latestRevision: true
//     entry, its latest created Revision (so that it is warm before it
//     gets traffic).
//
// Every referenced Configuration and Revision gets route's name in its
// serving.knative.dev/routes annotation (sorted, comma-separated), and a
// referenced Revision gets routing state "active". Only once route is
// Ready or Failed for its current generation are the others cleaned up:
// route is removed from the annotation of the Configurations and active
// Revisions that list it, and a Revision left with no route becomes
// "reserve", which lets it scale to zero and, later, be garbage collected
// (see package gc). A routing state change sets the
// serving.knative.dev/routingStateModified annotation to now.
//
// cfgs and revs may hold any objects; only those in route's namespace
// count. The inputs are not modified. The results are sorted by name.
func SyncRoutingState(route *v1.Route, cfgs []*v1.Configuration, revs []*v1.Revision, now time.Time) RoutingChanges {
	cfgByName, revByName := byName(cfgs, route.Namespace), byName(revs, route.Namespace)

	refCfgs := map[string]bool{}
	refRevs := map[string]bool{}
	for _, tt := range slices.Concat(route.Status.Traffic, route.Spec.Traffic) {
		cfgName := tt.ConfigurationName
		if tt.RevisionName != "" {
			rev, ok := revByName[tt.RevisionName]
			if !ok {
				continue // not there (yet)
			}
			refRevs[rev.Name] = true
			if owner := metav1.GetControllerOf(rev); owner != nil && owner.Kind == v1.KindConfiguration {
				cfgName = owner.Name
			}
		}
		if cfgName == "" {
			continue
		}
		cfg, ok := cfgByName[cfgName]
		if !ok {
			continue
		}
		refCfgs[cfg.Name] = true
		if lc := cfg.Status.LatestCreatedRevisionName; lc != "" && tt.LatestRevision != nil && *tt.LatestRevision {
			refRevs[lc] = true
		}
	}
	return syncRouting(route.Name, refCfgs, refRevs, route.IsReady() || route.IsFailed(), cfgByName, revByName, now)
}

// ForgetRoute removes the Route namespace/name from the routing metadata of
// the Configurations and active Revisions that list it, as Knative does
// when a Route is deleted; a Revision left with no route becomes
// "reserve". The inputs are not modified.
func ForgetRoute(namespace, name string, cfgs []*v1.Configuration, revs []*v1.Revision, now time.Time) RoutingChanges {
	return syncRouting(name, nil, nil, true, byName(cfgs, namespace), byName(revs, namespace), now)
}

func syncRouting(route string, refCfgs, refRevs map[string]bool, clean bool,
	cfgs map[string]*v1.Configuration, revs map[string]*v1.Revision, now time.Time) RoutingChanges {
	var out RoutingChanges
	for _, name := range sortedKeys(cfgs) {
		c := cfgs[name]
		routes := routeList(c.Annotations)
		has := slices.Contains(routes, route)
		switch {
		case refCfgs[name] && !has:
			routes = append(routes, route)
		case !refCfgs[name] && has && clean:
			routes = slices.DeleteFunc(routes, func(r string) bool { return r == route })
		default:
			continue
		}
		c = c.DeepCopy()
		setRouteList(&c.ObjectMeta, routes)
		out.Configurations = append(out.Configurations, c)
	}
	for _, name := range sortedKeys(revs) {
		r := revs[name]
		routes := routeList(r.Annotations)
		has := slices.Contains(routes, route)
		switch {
		case refRevs[name]:
			if !has {
				routes = append(routes, route)
			}
		case has && clean && r.Labels[serving.RoutingStateLabelKey] == serving.RoutingStateActive:
			routes = slices.DeleteFunc(routes, func(x string) bool { return x == route })
		default:
			continue
		}
		state := serving.RoutingStateReserve
		if len(routes) > 0 {
			state = serving.RoutingStateActive
		}
		if has == refRevs[name] && r.Labels[serving.RoutingStateLabelKey] == state {
			continue // nothing changes
		}
		r = r.DeepCopy()
		setRouteList(&r.ObjectMeta, routes)
		if r.Labels[serving.RoutingStateLabelKey] != state {
			if r.Labels == nil {
				r.Labels = map[string]string{}
			}
			r.Labels[serving.RoutingStateLabelKey] = state
			if r.Annotations == nil {
				r.Annotations = map[string]string{}
			}
			r.Annotations[serving.RoutingStateModifiedAnnotationKey] = RoutingStateModifiedString(now)
		}
		out.Revisions = append(out.Revisions, r)
	}
	return out
}

// routeList parses the routes annotation: the non-empty names, without
// duplicates.
func routeList(annotations map[string]string) []string {
	v := annotations[serving.RoutesAnnotationKey]
	if v == "" {
		return nil
	}
	var out []string
	for _, r := range strings.Split(v, ",") {
		if r != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// setRouteList writes routes, sorted, into the routes annotation, or
// deletes the annotation when routes is empty.
func setRouteList(m *metav1.ObjectMeta, routes []string) {
	if len(routes) == 0 {
		delete(m.Annotations, serving.RoutesAnnotationKey)
		return
	}
	slices.Sort(routes)
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[serving.RoutesAnnotationKey] = strings.Join(routes, ",")
}

// byName indexes the non-nil objects of namespace ns by name.
func byName[T interface {
	comparable
	metav1.Object
}](objs []T, ns string) map[string]T {
	var zero T
	m := make(map[string]T, len(objs))
	for _, o := range objs {
		if o != zero && o.GetNamespace() == ns {
			m[o.GetName()] = o
		}
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
