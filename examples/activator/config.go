package main

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

// Config is the endpoint source: the revisions this activator fronts, with their
// pods' addresses. Read from -endpoints-file (YAML or JSON) or built from -revision.
type Config struct {
	Revisions []RevisionConfig `json:"revisions"`
}

// RevisionConfig is one revision.
type RevisionConfig struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// ContainerConcurrency: 0 means unlimited.
	ContainerConcurrency int `json:"containerConcurrency"`
	// TimeoutSeconds: 0 means 300.
	TimeoutSeconds int `json:"timeoutSeconds"`
	// Hosts route requests to this revision by Host header (port ignored).
	Hosts []string `json:"hosts"`
	// Addresses are the pods' queue proxies, ip:port. Bad ones are logged and ignored
	// by the activator.
	Addresses []string `json:"addresses"`
}

func (r RevisionConfig) key() activator.RevisionKey {
	return activator.RevisionKey{Namespace: r.Namespace, Name: r.Name}
}

// parseConfig reads YAML or JSON; unknown fields and invalid values are errors that
// name the field.
func parseConfig(data []byte) (*Config, error) {
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
		case seen[r.key()]:
			return nil, fmt.Errorf("endpoints file: %s: revision %s listed twice", f, r.key())
		}
		seen[r.key()] = true
		for j, h := range r.Hosts {
			h = strings.ToLower(h)
			if h == "" || strings.ContainsAny(h, " /") {
				return nil, fmt.Errorf("endpoints file: %s.hosts[%d]: invalid host %q", f, j, r.Hosts[j])
			}
			if other, dup := hosts[h]; dup {
				return nil, fmt.Errorf("endpoints file: %s.hosts[%d]: host %q already routes to %s", f, j, h, other)
			}
			hosts[h] = r.key().String()
		}
	}
	return &c, nil
}

// parseRevisionFlag parses -revision ns/name=addr,addr (addresses may be empty).
func parseRevisionFlag(s string, cc int, timeout time.Duration) (RevisionConfig, error) {
	keyPart, addrs, _ := strings.Cut(s, "=")
	ns, name, ok := strings.Cut(keyPart, "/")
	if !ok || ns == "" || name == "" {
		return RevisionConfig{}, fmt.Errorf("-revision %q: want namespace/name=ip:port[,ip:port]", s)
	}
	r := RevisionConfig{Namespace: ns, Name: name, ContainerConcurrency: cc, TimeoutSeconds: int(timeout / time.Second)}
	for a := range strings.SplitSeq(addrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			r.Addresses = append(r.Addresses, a)
		}
	}
	return r, nil
}

// hostResolver routes by the configured hosts, then by Knative's
// <revision>.<namespace>.svc.<domain> form.
type hostResolver struct {
	hosts map[string]activator.RevisionKey
}

func newHostResolver(c *Config) *hostResolver {
	hr := &hostResolver{hosts: map[string]activator.RevisionKey{}}
	for _, r := range c.Revisions {
		for _, h := range r.Hosts {
			hr.hosts[strings.ToLower(h)] = r.key()
		}
	}
	return hr
}

func (hr *hostResolver) Resolve(r *http.Request) (activator.RevisionKey, error) {
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
