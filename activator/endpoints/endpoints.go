package endpoints

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/servekit/servekit/activator"
)

// Config is a static endpoint description: the revisions an activator fronts, with
// their pods' addresses. Parse reads it from YAML or JSON; ParseRevisionFlag builds
// one revision from a command-line form.
type Config struct {
	Revisions []Revision `json:"revisions"`
}

// Revision is one revision of a Config.
type Revision struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// ContainerConcurrency: 0 means unlimited.
	ContainerConcurrency int `json:"containerConcurrency"`
	// TimeoutSeconds: 0 means 300 (activator.DefaultTimeout).
	TimeoutSeconds int `json:"timeoutSeconds"`
	// Protocol is what the pods speak, with Knative's port names: "h2c" sends them
	// requests over cleartext HTTP/2 (activator.Revision.H2C: gRPC); "" or "http1",
	// over HTTP/1.1.
	Protocol string `json:"protocol,omitempty"`
	// Hosts route requests to this revision by Host header (port ignored, case
	// insensitive).
	Hosts []string `json:"hosts"`
	// Addresses are the pods' queue proxies, ip:port. Bad ones are logged and ignored
	// by the Throttler (activator.Throttler.UpdateEndpoints).
	Addresses []string `json:"addresses"`
}

// Key returns the revision's key.
func (r Revision) Key() activator.RevisionKey {
	return activator.RevisionKey{Namespace: r.Namespace, Name: r.Name}
}

// Parse reads a Config from YAML or JSON; empty input is an empty Config. Unknown
// fields and invalid values (a missing namespace or name, a negative
// containerConcurrency or timeoutSeconds, an unknown protocol, a revision or a host
// listed twice) are
// errors that name the field, e.g. "revisions[1].hosts[0]".
func Parse(data []byte) (*Config, error) {
	var c Config
	if len(bytes.TrimSpace(data)) == 0 {
		return &c, nil
	}
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("endpoints file: %w", err)
	}
	seen := map[activator.RevisionKey]bool{}
	hosts := map[string]string{}
	for i, r := range c.Revisions {
		f := fmt.Sprintf("revisions[%d]", i)
		switch {
		case r.Namespace == "":
			return nil, fmt.Errorf("endpoints file: %s.namespace: required", f)
		case r.Name == "":
			return nil, fmt.Errorf("endpoints file: %s.name: required", f)
		case r.ContainerConcurrency < 0:
			return nil, fmt.Errorf("endpoints file: %s.containerConcurrency: must be >= 0, got %d", f, r.ContainerConcurrency)
		case r.TimeoutSeconds < 0:
			return nil, fmt.Errorf("endpoints file: %s.timeoutSeconds: must be >= 0, got %d", f, r.TimeoutSeconds)
		case r.Protocol != "" && r.Protocol != "http1" && r.Protocol != "h2c":
			return nil, fmt.Errorf("endpoints file: %s.protocol: must be \"\", \"http1\" or \"h2c\", got %q", f, r.Protocol)
		case seen[r.Key()]:
			return nil, fmt.Errorf("endpoints file: %s: revision %s listed twice", f, r.Key())
		}
		seen[r.Key()] = true
		for j, h := range r.Hosts {
			h = strings.ToLower(h)
			if h == "" || strings.ContainsAny(h, " /") {
				return nil, fmt.Errorf("endpoints file: %s.hosts[%d]: invalid host %q", f, j, r.Hosts[j])
			}
			if other, dup := hosts[h]; dup {
				return nil, fmt.Errorf("endpoints file: %s.hosts[%d]: host %q already routes to %s", f, j, h, other)
			}
			hosts[h] = r.Key().String()
		}
	}
	return &c, nil
}

// ParseRevisionFlag parses the command-line form of a revision,
// namespace/name=ip:port[,ip:port...] (the address list may be empty), giving it
// containerConcurrency cc and the timeout (whole seconds). Its errors name the
// -revision flag.
func ParseRevisionFlag(s string, cc int, timeout time.Duration) (Revision, error) {
	keyPart, addrs, _ := strings.Cut(s, "=")
	ns, name, ok := strings.Cut(keyPart, "/")
	if !ok || ns == "" || name == "" {
		return Revision{}, fmt.Errorf("-revision %q: want namespace/name=ip:port[,ip:port]", s)
	}
	r := Revision{Namespace: ns, Name: name, ContainerConcurrency: cc, TimeoutSeconds: int(timeout / time.Second)}
	for a := range strings.SplitSeq(addrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			r.Addresses = append(r.Addresses, a)
		}
	}
	return r, nil
}

// HostResolver is an activator.Resolver that routes by the hosts of a Config, then by
// Knative's <revision>.<namespace>.svc.<cluster-domain> form (activator.ServiceHost).
// It is immutable; build a new one for a new Config.
type HostResolver struct {
	hosts map[string]activator.RevisionKey
}

// NewHostResolver returns the resolver for c's hosts.
func NewHostResolver(c *Config) *HostResolver {
	hr := &HostResolver{hosts: map[string]activator.RevisionKey{}}
	for _, r := range c.Revisions {
		for _, h := range r.Hosts {
			hr.hosts[strings.ToLower(h)] = r.Key()
		}
	}
	return hr
}

// Resolve returns the revision for r's Host, or an error naming the Host (which the
// activator.Handler answers with 404).
func (hr *HostResolver) Resolve(r *http.Request) (activator.RevisionKey, error) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if k, ok := hr.hosts[strings.ToLower(host)]; ok {
		return k, nil
	}
	if k, err := activator.ServiceHost(r.Host); err == nil {
		return k, nil
	}
	return activator.RevisionKey{}, fmt.Errorf("activator: no revision for Host %q", r.Host)
}
