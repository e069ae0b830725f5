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

// DomainTLS is what a DomainMapping holding its host asks of the HTTPS
// ingress's certificates.
type DomainTLS struct {
	// Namespace and Host name the DomainMapping (Host is its name, the mapped
	// host).
	Namespace, Host string
	// SecretName is its spec.tls.secretName: the Kubernetes TLS Secret, in
	// Namespace, whose certificate serves Host; "" without spec.tls.
	SecretName string
}

// CertificateStatus is what DomainCertificates says of a DomainMapping's
// certificate: CertificateProvisioned True when Ready, Unknown when Pending,
// else False with Reason and Message.
type CertificateStatus struct {
	// Ready reports that the HTTPS ingress presents a certificate valid for the
	// host to a client asking for it (SNI).
	Ready bool
	// Pending reports that it is not known yet (a Secret not read yet).
	Pending bool
	// Reason and Message say why the certificate is not Ready (e.g. the Secret
	// is missing: the message names it).
	Reason, Message string
}

// DomainCertificates is the HTTPS ingress's certificates as the DomainMapping
// reconciler asks about them (Options.Certificates): serving/platform answers
// from its certificate files, serving/platform/cluster from them and the
// Secrets the DomainMappings name. The Controller calls its methods with its
// lock held: they must not block, nor call the Controller (call
// CertificatesChanged from another goroutine).
type DomainCertificates interface {
	// DomainCertificate says whether the HTTPS ingress serves d.Host with a
	// certificate valid for it: with d.SecretName, that Secret's certificate;
	// without, any it holds for the host.
	DomainCertificate(d DomainTLS) CertificateStatus
	// SetDomains is called after each reconcile of the DomainMappings with those
	// that hold their hosts (sorted by namespace and host): the certificates a
	// source should look for (e.g. the Secrets to read).
	SetDomains(ds []DomainTLS)
}

// CertificatesChanged tells the Controller that the HTTPS ingress's
// certificates changed (one loaded, renewed or removed, a Secret appeared): the
// DomainMappings are reconciled again (their URL and CertificateProvisioned)
// at the next pass. It never blocks.
func (c *Controller) CertificatesChanged() {
	c.mu.Lock()
	c.mu.dirty.table = true // DomainMappings are reconciled with the table
	c.mu.Unlock()
	c.kick()
}

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
	var held []DomainTLS
	for _, key := range keys {
		dm := c.mu.domains[key]
		before := dm.Status.DeepCopy()
		if entry, ok := c.reconcileDomainLocked(key, dm, routeHosts, now); ok {
			c.mu.dmEntries = append(c.mu.dmEntries, entry)
		}
		if c.mu.claims[key.Name] == key.Namespace {
			held = append(held, domainTLS(key, dm))
		}
		if !equality.Semantic.DeepEqual(before, &dm.Status) {
			c.touchLocked(key)
			changed++
		}
	}
	if c.certs != nil {
		slices.SortFunc(held, func(a, b DomainTLS) int {
			return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Host, b.Host))
		})
		c.certs.SetDomains(held)
	}
	return changed
}

// domainTLS is the DomainTLS of the DomainMapping key.
func domainTLS(key types.NamespacedName, dm *v1beta1.DomainMapping) DomainTLS {
	d := DomainTLS{Namespace: key.Namespace, Host: dm.Name}
	if dm.Spec.TLS != nil {
		d.SecretName = dm.Spec.TLS.SecretName
	}
	return d
}

// markDomainTLSLocked sets a DomainMapping's URL, address and
// CertificateProvisioned from its spec.tls and the HTTPS ingress's certificates
// (claimed: it holds its host). Knative's rule for the URL: https with spec.tls
// (a certificate provided externally), else https only with a provisioned
// certificate; here a certificate the HTTPS ingress holds for the host counts as
// provisioned.
func (c *Controller) markDomainTLSLocked(key types.NamespacedName, dm *v1beta1.DomainMapping, claimed bool, now time.Time) {
	st := &dm.Status
	d := domainTLS(key, dm)
	https := d.SecretName != ""
	switch {
	case !claimed && https:
		st.MarkCertificateNotReady(now, "The domain name is claimed by another namespace's DomainMapping.")
	case !claimed:
		st.MarkTLSNotEnabled(now, v1beta1.MessageAutoTLSNotEnabled)
	case c.certs == nil && https:
		st.MarkCertificateFailed(now, v1beta1.ReasonHTTPSNotEnabled,
			fmt.Sprintf("spec.tls.secretName %q: the platform serves no HTTPS ingress", d.SecretName))
	case c.certs == nil:
		st.MarkTLSNotEnabled(now, v1beta1.MessageAutoTLSNotEnabled)
	default:
		cs := c.certs.DomainCertificate(d)
		switch {
		case cs.Ready:
			https = true
			st.MarkCertificateReady(now)
		case !https:
			st.MarkTLSNotEnabled(now, v1beta1.MessageAutoTLSNotEnabled)
		case cs.Pending:
			st.MarkCertificateNotReady(now, cs.Message)
		default:
			st.MarkCertificateFailed(now, cs.Reason, cs.Message)
		}
	}
	url := "http://" + dm.Name
	if https {
		url = "https://" + dm.Name
	}
	st.URL = url
	st.Address = &v1.Addressable{URL: url}
}

// reconcileDomainLocked reconciles one DomainMapping and returns its table entry
// (ok false when the host must not be routed).
func (c *Controller) reconcileDomainLocked(key types.NamespacedName, dm *v1beta1.DomainMapping, routeHosts map[string]string, now time.Time) (route.TableRoute, bool) {
	st := &dm.Status
	st.InitializeConditions(now)
	st.ObservedGeneration = dm.Generation

	host := dm.Name
	if owner, held := c.mu.claims[host]; !held {
		c.mu.claims[host] = key.Namespace
		c.touchLocked(domainClaimKey(host))
	} else if owner != key.Namespace {
		c.markDomainTLSLocked(key, dm, false, now)
		st.MarkDomainClaimNotOwned(now)
		st.MarkIngressNotConfigured(now)
		return route.TableRoute{}, false
	}
	st.MarkDomainClaimed(now)
	c.markDomainTLSLocked(key, dm, true, now)

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
