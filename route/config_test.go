package route

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConfigFromMapsDefaults(t *testing.T) {
	c, err := ConfigFromMaps(ConfigMaps{
		Network: map[string]string{
			"domain-template": DefaultDomainTemplate, // explicit default: same as nil
			"tag-template":    DefaultTagTemplate,
		},
		Domain: map[string]string{"_example": "################\n# docs\n"},
	})
	if err != nil {
		t.Fatalf("ConfigFromMaps() = %v", err)
	}
	if c.DomainTemplate != nil || c.TagTemplate != nil || c.RolloutDuration != 0 || c.Domains != nil || c.TagHeaderRouting || c.DefaultExternalScheme != "" {
		t.Errorf("ConfigFromMaps(stock) = %+v, want the zero Config", c)
	}
}

func TestConfigFromMaps(t *testing.T) {
	tests := []struct {
		name     string
		maps     ConfigMaps
		rollout  time.Duration
		header   bool
		domains  []DomainRule
		tagName  string // TagName("hello", "beta")
		wantHost string // Hosts()[0].Host of hello/default
	}{{
		name:     "kebab-case keys",
		maps:     ConfigMaps{Network: map[string]string{"rollout-duration": "380", "tag-template": "{{.Name}}-{{.Tag}}"}, Domain: exampleDomain},
		rollout:  380 * time.Second,
		domains:  []DomainRule{{Domain: "example.com"}},
		tagName:  "hello-beta",
		wantHost: "hello.default.example.com",
	}, {
		name: "legacy camelCase keys are read, kebab-case wins",
		maps: ConfigMaps{Network: map[string]string{
			"rolloutDuration": "60", "rollout-duration": "120",
			"domainTemplate": "{{.Name}}.{{.Domain}}",
			"tagTemplate":    "{{.Tag}}.{{.Name}}",
		}, Domain: exampleDomain},
		rollout:  120 * time.Second,
		domains:  []DomainRule{{Domain: "example.com"}},
		tagName:  "beta.hello",
		wantHost: "hello.example.com",
	}, {
		name:     "tag header routing and selectors",
		maps:     ConfigMaps{Features: map[string]string{"tag-header-based-routing": "Enabled"}, Domain: map[string]string{"example.com": "selector:\n  app: \"prod\"  # comment\n"}},
		header:   true,
		domains:  []DomainRule{{Domain: "example.com", Selector: map[string]string{"app": "prod"}}},
		tagName:  "beta-hello",
		wantHost: "hello.default.svc.cluster.local",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustConfig(t, tc.maps)
			if c.RolloutDuration != tc.rollout || c.TagHeaderRouting != tc.header {
				t.Errorf("RolloutDuration, TagHeaderRouting = %v, %v; want %v, %v", c.RolloutDuration, c.TagHeaderRouting, tc.rollout, tc.header)
			}
			if diff := cmp.Diff(tc.domains, c.Domains); diff != "" {
				t.Errorf("Domains (-want +got):\n%s", diff)
			}
			if got, _ := c.TagName("hello", "beta"); got != tc.tagName {
				t.Errorf("TagName = %q, want %q", got, tc.tagName)
			}
			hs, err := c.Hosts(Route{Name: "hello", Namespace: "default"})
			if err != nil || hs[0].Host != tc.wantHost {
				t.Errorf("Hosts()[0].Host = %v, %v; want %q", hs, err, tc.wantHost)
			}
		})
	}
}

func TestConfigFromMapsErrors(t *testing.T) {
	tests := []struct {
		name string
		maps ConfigMaps
		want []string // substrings: config map, key, value
	}{
		{"negative rollout", ConfigMaps{Network: map[string]string{"rollout-duration": "-5"}}, []string{"config-network", "rollout-duration", "must be a positive integer, but was -5"}},
		{"rollout not an integer", ConfigMaps{Network: map[string]string{"rollout-duration": "2m"}}, []string{"config-network", "rollout-duration", `"2m"`}},
		{"rollout too long", ConfigMaps{Network: map[string]string{"rollout-duration": "99999999999999"}}, []string{"rollout-duration", "too long"}},
		{"legacy rollout bad", ConfigMaps{Network: map[string]string{"rolloutDuration": "x"}}, []string{"rollout-duration", `"x"`}},
		{"domain template does not parse", ConfigMaps{Network: map[string]string{"domain-template": "{{.Name"}}, []string{"config-network", "domain-template"}},
		{"domain template has a path", ConfigMaps{Network: map[string]string{"domain-template": "{{.Name}}.{{.Domain}}/x"}}, []string{"domain-template", "has url path: /x"}},
		{"domain template empty host", ConfigMaps{Network: map[string]string{"domain-template": ""}}, []string{"domain-template", "empty hostname"}},
		{"domain template unknown field", ConfigMaps{Network: map[string]string{"domain-template": "{{.Nope}}.com"}}, []string{"domain-template", "Nope"}},
		{"tag template unknown field", ConfigMaps{Network: map[string]string{"tag-template": "{{.Namespace}}"}}, []string{"config-network", "tag-template", "Namespace"}},
		{"scheme", ConfigMaps{Network: map[string]string{"default-external-scheme": "ftp"}}, []string{"default-external-scheme", `"ftp"`}},
		{"feature value", ConfigMaps{Features: map[string]string{"tag-header-based-routing": "yes"}}, []string{"config-features", "tag-header-based-routing", `"yes"`}},
		{"selector not a map", ConfigMaps{Domain: map[string]string{"example.com": "selector: app"}}, []string{"config-domain", "example.com", "selector must be a map"}},
		{"unknown field", ConfigMaps{Domain: map[string]string{"example.com": "labels:\n  app: x"}}, []string{"config-domain", "example.com", "unknown field"}},
		{"label without value", ConfigMaps{Domain: map[string]string{"example.com": "selector:\n  app\n"}}, []string{"config-domain", "example.com", `label "app"`}},
		{"duplicate label", ConfigMaps{Domain: map[string]string{"example.com": "selector:\n  app: x\n  app: y\n"}}, []string{"example.com", "given twice"}},
		{"nested map", ConfigMaps{Domain: map[string]string{"example.com": "selector:\n  app:\n    x: y\n"}}, []string{"example.com", "line 3: unexpected indentation"}},
		{"tabs", ConfigMaps{Domain: map[string]string{"example.com": "selector:\n\tapp: x\n"}}, []string{"example.com", "tabs"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ConfigFromMaps(tc.maps)
			if err == nil {
				t.Fatal("ConfigFromMaps() = nil error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestRolloutDurationFor(t *testing.T) {
	c := Config{RolloutDuration: 120 * time.Second}
	tests := []struct {
		name        string
		annotations map[string]string
		want        time.Duration
		err         string
	}{
		{"no annotation: config default", nil, 120 * time.Second, ""},
		{"annotation wins", map[string]string{RolloutDurationAnnotation: "380s"}, 380 * time.Second, ""},
		{"minutes", map[string]string{RolloutDurationAnnotation: "2m"}, 2 * time.Minute, ""},
		{"camelCase annotation", map[string]string{"serving.knative.dev/rolloutDuration": "10s"}, 10 * time.Second, ""},
		{"zero annotation: config default", map[string]string{RolloutDurationAnnotation: "0s"}, 120 * time.Second, ""},
		{"negative", map[string]string{RolloutDurationAnnotation: "-1s"}, 0, "serving.knative.dev/rollout-duration: rollout-duration=-1s must be positive"},
		{"sub-second", map[string]string{RolloutDurationAnnotation: "1500ms"}, 0, "not at second precision"},
		{"garbage", map[string]string{RolloutDurationAnnotation: "soon"}, 0, `invalid duration "soon"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.RolloutDurationFor(tc.annotations)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("RolloutDurationFor() = %v, %v; want error %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("RolloutDurationFor() = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
