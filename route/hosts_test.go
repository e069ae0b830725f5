package route

import (
	"errors"
	"strings"
	"testing"
	"text/template"

	"github.com/google/go-cmp/cmp"
)

func mustConfig(t *testing.T, m ConfigMaps) Config {
	t.Helper()
	c, err := ConfigFromMaps(m)
	if err != nil {
		t.Fatalf("ConfigFromMaps() = %v", err)
	}
	return c
}

var exampleDomain = map[string]string{"example.com": ""}

func TestHosts(t *testing.T) {
	hello := Route{
		Name: "hello", Namespace: "default",
		Traffic: []Target{
			{ConfigurationName: "hello", Percent: pct(100)},
			{RevisionName: "hello-00002", Percent: pct(0), Tag: "candidate"},
		},
	}
	local := func(n string) []string {
		return []string{n + ".default", n + ".default.svc", n + ".default.svc.cluster.local"}
	}
	tests := []struct {
		name  string
		maps  ConfigMaps
		route func(Route) Route
		want  []HostSet
	}{{
		name: "default template with a real domain",
		maps: ConfigMaps{Domain: exampleDomain},
		want: []HostSet{{
			Host: "hello.default.example.com", URL: "http://hello.default.example.com",
			External: []string{"hello.default.example.com"}, Local: local("hello"),
		}, {
			Tag: "candidate", Host: "candidate-hello.default.example.com", URL: "http://candidate-hello.default.example.com",
			External: []string{"candidate-hello.default.example.com"}, Local: local("candidate-hello"),
		}},
	}, {
		name: "stock config-domain makes everything cluster-local",
		maps: ConfigMaps{},
		want: []HostSet{{
			ClusterLocal: true, Host: "hello.default.svc.cluster.local", URL: "http://hello.default.svc.cluster.local", Local: local("hello"),
		}, {
			Tag: "candidate", ClusterLocal: true, Host: "candidate-hello.default.svc.cluster.local",
			URL: "http://candidate-hello.default.svc.cluster.local", Local: local("candidate-hello"),
		}},
	}, {
		name: "custom domain and tag templates",
		maps: ConfigMaps{
			Network: map[string]string{
				"domain-template":         "{{.Name}}-{{.Namespace}}.{{.Domain}}",
				"tag-template":            "{{.Name}}-{{.Tag}}",
				"default-external-scheme": "https",
			},
			Domain: exampleDomain,
		},
		want: []HostSet{{
			Host: "hello-default.example.com", URL: "https://hello-default.example.com",
			External: []string{"hello-default.example.com"}, Local: local("hello"),
		}, {
			Tag: "candidate", Host: "hello-candidate-default.example.com", URL: "https://hello-candidate-default.example.com",
			External: []string{"hello-candidate-default.example.com"}, Local: local("hello-candidate"),
		}},
	}, {
		name: "template using labels and annotations",
		maps: ConfigMaps{
			Network: map[string]string{"domain-template": `{{.Name}}.{{index .Labels "team"}}.{{.Domain}}`},
			Domain:  exampleDomain,
		},
		route: func(r Route) Route {
			r.Labels = map[string]string{"team": "blue"}
			r.Traffic = r.Traffic[:1]
			return r
		},
		want: []HostSet{{
			Host: "hello.blue.example.com", URL: "http://hello.blue.example.com",
			External: []string{"hello.blue.example.com"}, Local: local("hello"),
		}},
	}, {
		name: "visibility label: cluster-local ignores the custom template",
		maps: ConfigMaps{
			Network: map[string]string{"domain-template": "{{.Name}}-{{.Namespace}}.{{.Domain}}"},
			Domain:  exampleDomain,
		},
		route: func(r Route) Route {
			r.Labels = map[string]string{VisibilityLabelKey: VisibilityClusterLocal}
			return r
		},
		want: []HostSet{{
			ClusterLocal: true, Host: "hello.default.svc.cluster.local", URL: "http://hello.default.svc.cluster.local", Local: local("hello"),
		}, {
			Tag: "candidate", ClusterLocal: true, Host: "candidate-hello.default.svc.cluster.local",
			URL: "http://candidate-hello.default.svc.cluster.local", Local: local("candidate-hello"),
		}},
	}, {
		name: "one private tag on a public route",
		maps: ConfigMaps{Domain: exampleDomain},
		route: func(r Route) Route {
			r.ClusterLocalTags = map[string]bool{"candidate": true}
			return r
		},
		want: []HostSet{{
			Host: "hello.default.example.com", URL: "http://hello.default.example.com",
			External: []string{"hello.default.example.com"}, Local: local("hello"),
		}, {
			Tag: "candidate", ClusterLocal: true, Host: "candidate-hello.default.svc.cluster.local",
			URL: "http://candidate-hello.default.svc.cluster.local", Local: local("candidate-hello"),
		}},
	}, {
		name: "domain chosen by selector",
		maps: ConfigMaps{Domain: map[string]string{
			"example.com":  "",
			"example.org":  "selector:\n  app: nonprofit\n",
			"internal.net": "selector:\n  app: nonprofit\n  tier: secret\n",
		}},
		route: func(r Route) Route {
			r.Labels = map[string]string{"app": "nonprofit"}
			r.Traffic = r.Traffic[:1]
			return r
		},
		want: []HostSet{{
			Host: "hello.default.example.org", URL: "http://hello.default.example.org",
			External: []string{"hello.default.example.org"}, Local: local("hello"),
		}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustConfig(t, tc.maps)
			r := hello
			if tc.route != nil {
				r = tc.route(r)
			}
			got, err := c.Hosts(r)
			if err != nil {
				t.Fatalf("Hosts() = %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Hosts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDomainSelection(t *testing.T) {
	c := mustConfig(t, ConfigMaps{Domain: map[string]string{
		"_example":   "ignored: true",
		"b.example":  "selector:\n  app: x\n",
		"a.example":  "selector: {app: x}",
		"ab.example": "selector:\n  app: x\n  env: prod\n",
		"prod.com":   "selector:\n  env: prod",
	}})
	tests := []struct {
		labels map[string]string
		want   string
	}{
		{nil, "svc.cluster.local"},                                   // no empty selector: default local domain
		{map[string]string{"app": "x"}, "a.example"},                 // tie: lexically smaller
		{map[string]string{"app": "x", "env": "prod"}, "ab.example"}, // most specific
		{map[string]string{"env": "prod"}, "prod.com"},
		{map[string]string{"app": "x", VisibilityLabelKey: VisibilityClusterLocal}, "svc.cluster.local"},
	}
	for _, tc := range tests {
		if got := c.Domain(tc.labels); got != tc.want {
			t.Errorf("Domain(%v) = %q, want %q", tc.labels, got, tc.want)
		}
	}
	c.ClusterDomain = "corp.internal"
	if got := c.Domain(nil); got != "svc.corp.internal" {
		t.Errorf("Domain with cluster domain corp.internal = %q", got)
	}
}

func TestHostsBadInput(t *testing.T) {
	tests := []struct {
		name     string
		network  map[string]string
		route    Route
		path     string
		contains string
	}{{
		name:     "tag template renders an invalid host",
		network:  map[string]string{"tag-template": "{{.Tag}}_{{.Name}}"},
		route:    Route{Name: "hello", Namespace: "default", Traffic: []Target{{ConfigurationName: "c", Percent: pct(100)}, {RevisionName: "r", Tag: "beta"}}},
		path:     "spec.traffic[1].tag",
		contains: `domain name error: invalid domain name "beta_hello.default.example.com"`,
	}, {
		name:     "label longer than 63 characters",
		route:    Route{Name: "hello", Namespace: "default", Traffic: []Target{{ConfigurationName: "c", Percent: pct(100), Tag: strings.Repeat("t", 60)}}},
		path:     "spec.traffic[0].tag",
		contains: "must be no more than 63 characters",
	}, {
		name:     "domain template renders a single label",
		network:  map[string]string{"domain-template": "{{.Name}}{{if .Labels.flat}}{{else}}.{{.Namespace}}.{{.Domain}}{{end}}"},
		route:    Route{Name: "hello", Namespace: "default", Labels: map[string]string{"flat": "1"}},
		path:     "metadata.name",
		contains: "should be a domain with at least two segments",
	}, {
		name:     "template execution fails",
		network:  map[string]string{"domain-template": `{{.Name}}.{{index .Annotations "x" | printf "%s" | len | printf "%d"}}.{{.Domain}}{{template "nope"}}`},
		route:    Route{Name: "hello", Namespace: "default"},
		path:     "",
		contains: "",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ConfigFromMaps(ConfigMaps{Network: tc.network, Domain: exampleDomain})
			if tc.path == "" {
				// The template is rejected at load time, naming the key.
				if err == nil || !strings.Contains(err.Error(), "config-network: domain-template") {
					t.Fatalf("ConfigFromMaps() = %v, want a domain-template error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ConfigFromMaps() = %v", err)
			}
			_, err = c.Hosts(tc.route)
			var he *HostError
			if !errors.As(err, &he) {
				t.Fatalf("Hosts() = %v, want *HostError", err)
			}
			if he.Path != tc.path || !strings.Contains(he.Message, tc.contains) {
				t.Errorf("Hosts() = %v, want path %q and %q", err, tc.path, tc.contains)
			}
		})
	}
}

func TestHostsTemplateRuntimeError(t *testing.T) {
	// A template that parses and passes the load-time check but fails for a
	// particular route: the error names the path and Knative's wording.
	tmpl := template.Must(template.New("d").Option("missingkey=error").Parse(`{{.Name}}.{{.Labels.team}}.{{.Domain}}`))
	c := Config{DomainTemplate: tmpl, Domains: []DomainRule{{Domain: "example.com"}}}
	_, err := c.Hosts(Route{Name: "hello", Namespace: "default", Labels: map[string]string{"x": "y"}})
	var he *HostError
	if !errors.As(err, &he) || he.Path != "metadata.name" || !strings.Contains(he.Message, "domain name error: error executing the DomainTemplate") {
		t.Fatalf("Hosts() = %v, want a DomainTemplate execution error on metadata.name", err)
	}
}
