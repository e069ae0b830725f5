package controller

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/route"
	v1 "github.com/servekit/servekit/serving/v1"
	"github.com/servekit/servekit/serving/v1beta1"
)

// DomainMappings, as Knative's domainmapping reconciler: each host (the
// DomainMapping's name) is claimed by the first namespace that maps it, as
// Knative's cluster-scoped ClusterDomainClaim does (c.mu.claims, kept in the
// Store); spec.ref is resolved to a Service's or Route's Route; and the host gets
// that Route's default traffic (its tags are not mapped) in the route table. They
// are reconciled whenever the table is rebuilt (a Route's entry changed, a
// DomainMapping or a Route came or went, a full resync): DomainMappings are few,
// and what they read is exactly what the table is built from.

// domainClaimKey is the key of a host's claim among the touched keys and the
// Store's records: namespace "", name the host (no namespaced object has an empty
// namespace).
func domainClaimKey(host string) types.NamespacedName { return types.NamespacedName{Name: host} }

// claimRecord is the value of a RecordDomainClaim.
type claimRecord struct {
	// Namespace is the namespace whose DomainMapping holds the host.
	Namespace string `json:"namespace"`
}

// reconcileDomainsLocked reconciles every DomainMapping: claims, reference,
// status and its table entry (c.mu.dmEntries, which publishTableLocked adds to
// the table). It returns how many DomainMappings' status or claims changed.
func (c *Controller) reconcileDomainsLocked(now time.Time) int {
	changed := 0
	// A claim whose DomainMapping is gone is released (Knative deletes the
	// ClusterDomainClaim with its DomainMapping).
	for host, ns := range c.mu.claims {
		if c.mu.domains[types.NamespacedName{Namespace: ns, Name: host}] == nil {
			delete(c.mu.claims, host)
			c.touchLocked(domainClaimKey(host))
			changed++
		}
	}
	// The hosts of the Routes: a DomainMapping never takes one (the table would
	// refuse the duplicate).
	routeHosts := map[string]string{}
	for key, e := range c.mu.entries {
		for _, d := range e.Destinations {
			for _, h := range d.Hosts {
				routeHosts[strings.ToLower(strings.TrimSuffix(h, "."))] = key.String()
			}
		}
	}
	// First come, first served: the oldest DomainMapping of a host claims it
	// when no claim is held (namespaces break ties).
	keys := slices.SortedFunc(maps.Keys(c.mu.domains), func(a, b types.NamespacedName) int {
		da, db := c.mu.domains[a], c.mu.domains[b]
		return cmp.Or(da.CreationTimestamp.Compare(db.CreationTimestamp.Time), compareNames(a, b))
	})
	c.mu.dmEntries = c.mu.dmEntries[:0]
	for _, key := range keys {
		dm := c.mu.domains[key]
		before := dm.Status.DeepCopy()
		if entry, ok := c.reconcileDomainLocked(key, dm, routeHosts, now); ok {
			c.mu.dmEntries = append(c.mu.dmEntries, entry)
		}
		if !equality.Semantic.DeepEqual(before, &dm.Status) {
			c.touchLocked(key)
			changed++
		}
	}
	return changed
}

// reconcileDomainLocked reconciles one DomainMapping and returns its table entry
// (ok false when the host must not be routed).
func (c *Controller) reconcileDomainLocked(key types.NamespacedName, dm *v1beta1.DomainMapping, routeHosts map[string]string, now time.Time) (route.TableRoute, bool) {
	st := &dm.Status
	st.InitializeConditions(now)
	st.ObservedGeneration = dm.Generation
	// TLS is not served for mapped hosts (yet): the URL is http, as Knative's
	// without a certificate.
	url := "http://" + dm.Name
	st.URL = url
	st.Address = &v1.Addressable{URL: url}
	st.MarkTLSNotEnabled(now, v1beta1.MessageAutoTLSNotEnabled)

	host := dm.Name
	if owner, held := c.mu.claims[host]; !held {
		c.mu.claims[host] = key.Namespace
		c.touchLocked(domainClaimKey(host))
	} else if owner != key.Namespace {
		st.MarkDomainClaimNotOwned(now)
		st.MarkIngressNotConfigured(now)
		return route.TableRoute{}, false
	}
	st.MarkDomainClaimed(now)

	routeKey, msg := c.resolveDomainRefLocked(dm)
	if msg != "" {
		st.MarkReferenceNotResolved(now, msg)
		st.MarkIngressNotConfigured(now)
		return route.TableRoute{}, false
	}
	st.MarkReferenceResolved(now)

	if by, taken := routeHosts[strings.ToLower(host)]; taken {
		st.MarkIngressFailed(now, "DomainConflict", fmt.Sprintf("The host %q is already a host of Route %s.", host, by))
		return route.TableRoute{}, false
	}
	entry, ok := c.mu.entries[routeKey]
	if !ok {
		st.MarkIngressNotConfigured(now)
		return route.TableRoute{}, false
	}
	for _, d := range entry.Destinations {
		if d.Tag == "" {
			st.MarkIngressReady(now)
			return route.TableRoute{
				Namespace: entry.Namespace, Name: entry.Name,
				Destinations: []route.Destination{{Hosts: []string{host}, Splits: d.Splits}},
			}, true
		}
	}
	st.MarkIngressNotConfigured(now)
	return route.TableRoute{}, false
}

// resolveDomainRefLocked resolves a DomainMapping's spec.ref to the key of the
// Route whose traffic it gets, or says why it cannot (Knative's resolver
// messages where it has one).
func (c *Controller) resolveDomainRefLocked(dm *v1beta1.DomainMapping) (types.NamespacedName, string) {
	ref := dm.Spec.Ref
	ns := cmp.Or(ref.Namespace, dm.Namespace)
	key := types.NamespacedName{Namespace: ns, Name: ref.Name}
	if ref.APIVersion != v1.SchemeGroupVersion.String() || (ref.Kind != v1.KindService && ref.Kind != v1.KindRoute) {
		return key, fmt.Sprintf("unsupported reference %s %q of apiVersion %q: want a Service or Route of %s",
			ref.Kind, ref.Name, ref.APIVersion, v1.SchemeGroupVersion)
	}
	var addr *v1.Addressable
	switch ref.Kind {
	case v1.KindService:
		svc := c.mu.services[key]
		if svc == nil {
			return key, fmt.Sprintf("failed to get object %s: services.serving.knative.dev %q not found", key, ref.Name)
		}
		addr = svc.Status.Address
	case v1.KindRoute:
		rt := c.mu.routes[key]
		if rt == nil {
			return key, fmt.Sprintf("failed to get object %s: routes.serving.knative.dev %q not found", key, ref.Name)
		}
		addr = rt.Status.Address
	}
	if addr == nil || addr.URL == "" {
		return key, fmt.Sprintf("address not set for %s %s", ref.Kind, key)
	}
	return key, ""
}
