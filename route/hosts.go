package route

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Route is what host generation and the table need to know about a Route,
// as plain values.
type Route struct {
	// Name and Namespace of the Route (for a Service, the Service's).
	Name, Namespace string
	// Labels select the config-domain entry; the label
	// networking.knative.dev/visibility=cluster-local makes the Route
	// cluster-local. Nil means none.
	Labels map[string]string
	// Annotations are passed to the domain template (and hold the
	// rollout-duration annotation). Nil means none.
	Annotations map[string]string
	// ClusterLocalTags lists tags whose placeholder Service carries a
	// networking.knative.dev/visibility label: those tags are cluster-local
	// even when the Route is public. Nil means none.
	ClusterLocalTags map[string]bool
	// Traffic is the Route's spec.traffic; its tags name the tag hosts.
	Traffic []Target
}

// HostSet holds the hosts of one traffic name of a Route: the default
// ("" tag) or one tag.
type HostSet struct {
	// Tag is the traffic name; empty for the Route's default hosts.
	Tag string
	// ClusterLocal is true when the traffic name is reachable only inside
	// the cluster.
	ClusterLocal bool
	// Host is the primary host: the domain template's result, or
	// "<name>.<ns>.svc.<cluster domain>" when cluster-local.
	Host string
	// URL is the user-facing URL of Host: http for cluster-local, else the
	// configured external scheme.
	URL string
	// External are the public hosts (just Host); empty when cluster-local.
	External []string
	// Local are the in-cluster hosts: "<name>.<ns>",
	// "<name>.<ns>.svc" and "<name>.<ns>.svc.<cluster domain>".
	Local []string
}

// HostError is a host that is not a valid DNS name, or a template that
// failed to render. Knative puts its message on the Route's
// AllTrafficAssigned condition with reason ErrorConfig.
type HostError struct {
	// Path names the input that produced the host: "spec.traffic[i].tag"
	// for a tag's host, "metadata.name" for the Route's default host.
	Path string
	// Message is Knative's "domain name error: ..." text.
	Message string
}

// Error implements error.
func (e *HostError) Error() string { return "route: " + e.Path + ": " + e.Message }

func (c Config) clusterDomain() string {
	if c.ClusterDomain == "" {
		return DefaultClusterDomain
	}
	return c.ClusterDomain
}

// LocalDomain is the domain of cluster-local hosts, "svc.<cluster domain>".
func (c Config) LocalDomain() string { return "svc." + c.clusterDomain() }

// Domain returns the domain of a Route with these labels: the
// cluster-local domain when the visibility label says cluster-local;
// otherwise the config-domain rule whose selector matches the labels with
// the most keys (ties to the lexically smaller domain); otherwise, when no
// rule has an empty selector, the cluster-local domain.
func (c Config) Domain(labels map[string]string) string {
	if labels[VisibilityLabelKey] == VisibilityClusterLocal {
		return c.LocalDomain()
	}
	best, bestKeys := "", -1
	for _, r := range c.Domains {
		if !selectorMatches(r.Selector, labels) {
			continue
		}
		n := len(r.Selector)
		if n > bestKeys || n == bestKeys && r.Domain < best {
			best, bestKeys = r.Domain, n
		}
	}
	if bestKeys < 0 {
		return c.LocalDomain()
	}
	return best
}

func selectorMatches(sel, labels map[string]string) bool {
	for k, v := range sel {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

// TagName renders the tag template: the name a tag's hosts are built from,
// "<tag>-<route>" by default. An empty tag gives the route name.
func (c Config) TagName(route, tag string) (string, error) {
	if tag == "" {
		return route, nil
	}
	if c.TagTemplate == nil {
		return tag + "-" + route, nil
	}
	var buf bytes.Buffer
	if err := c.TagTemplate.Execute(&buf, TagTemplateValues{Name: route, Tag: tag}); err != nil {
		return "", fmt.Errorf("error executing the TagTemplate: %w", err)
	}
	return buf.String(), nil
}

// renderDomain renders the domain template for name (the route or tag
// name). Cluster-local hosts always use the default template.
func (c Config) renderDomain(r *Route, name, domain string, local bool) (string, error) {
	if local || c.DomainTemplate == nil {
		return name + "." + r.Namespace + "." + domain, nil
	}
	var buf bytes.Buffer
	err := c.DomainTemplate.Execute(&buf, DomainTemplateValues{
		Name: name, Namespace: r.Namespace, Domain: domain,
		Annotations: r.Annotations, Labels: r.Labels,
	})
	if err != nil {
		return "", fmt.Errorf("error executing the DomainTemplate: %w", err)
	}
	return buf.String(), nil
}

// Hosts returns the HostSet of the Route's default traffic followed by one
// per tag of r.Traffic, in spec order. A host that is not a fully qualified
// DNS-1123 name (at least two labels, each at most 63 characters) is a
// *HostError naming the tag's index ("spec.traffic[1].tag") or
// "metadata.name" for the default host.
func (c Config) Hosts(r Route) ([]HostSet, error) {
	domain := c.Domain(r.Labels)
	routeLocal := domain == c.LocalDomain()
	out := make([]HostSet, 0, 1+len(r.Traffic))
	seen := map[string]bool{}
	names := []struct {
		tag  string
		path string
	}{{"", "metadata.name"}}
	for i, t := range r.Traffic {
		if t.Tag != "" && !seen[t.Tag] {
			seen[t.Tag] = true
			names = append(names, struct{ tag, path string }{t.Tag, TrafficPath + "[" + strconv.Itoa(i) + "].tag"})
		}
	}
	scheme := c.DefaultExternalScheme
	if scheme == "" {
		scheme = "http"
	}
	for _, n := range names {
		hs, err := c.hostSet(&r, n.tag, domain, routeLocal || (n.tag != "" && r.ClusterLocalTags[n.tag]), scheme)
		if err != nil {
			return nil, &HostError{Path: n.path, Message: err.Error()}
		}
		out = append(out, hs)
	}
	return out, nil
}

func (c Config) hostSet(r *Route, tag, domain string, local bool, scheme string) (HostSet, error) {
	name, err := c.TagName(r.Name, tag)
	if err != nil {
		return HostSet{}, fmt.Errorf("domain name error: %w", err)
	}
	if local {
		domain = c.LocalDomain()
	}
	host, err := c.renderDomain(r, name, domain, local)
	if err != nil {
		return HostSet{}, fmt.Errorf("domain name error: %w", err)
	}
	if err := checkDomain(host); err != nil {
		return HostSet{}, fmt.Errorf("domain name error: %w", err)
	}
	hs := HostSet{Tag: tag, ClusterLocal: local, Host: host}
	localHost := name + "." + r.Namespace + "." + c.LocalDomain()
	if !local {
		if err := checkDomain(localHost); err != nil {
			return HostSet{}, fmt.Errorf("domain name error: %w", err)
		}
		hs.External = []string{host}
		hs.URL = scheme + "://" + host
	} else {
		hs.URL = "http://" + host
	}
	base := name + "." + r.Namespace
	hs.Local = []string{base, base + ".svc", localHost}
	return hs, nil
}

// checkDomain is Kubernetes' IsFullyQualifiedDomainName (a DNS-1123
// subdomain of at least two labels, each a DNS-1123 label) with Knative's
// message.
func checkDomain(d string) error {
	name := strings.TrimSuffix(d, ".")
	if name == "" {
		return fmt.Errorf("invalid domain name %q: url: Required value", d)
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return fmt.Errorf("invalid domain name %q: url: Invalid value: %q: %s", d, name, strings.Join(msgs, ","))
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return fmt.Errorf("invalid domain name %q: url: Invalid value: %q: should be a domain with at least two segments separated by dots", d, name)
	}
	for _, l := range labels {
		if msgs := validation.IsDNS1123Label(l); len(msgs) > 0 {
			return fmt.Errorf("invalid domain name %q: url: Invalid value: %q: %s", d, l, strings.Join(msgs, ","))
		}
	}
	return nil
}
