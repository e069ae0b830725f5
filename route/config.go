package route

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Defaults and keys of the config maps this package reads (Knative's names).
const (
	// DefaultDomainTemplate is config-network's default domain-template.
	DefaultDomainTemplate = "{{.Name}}.{{.Namespace}}.{{.Domain}}"
	// DefaultTagTemplate is config-network's default tag-template.
	DefaultTagTemplate = "{{.Tag}}-{{.Name}}"
	// DefaultClusterDomain is the Kubernetes cluster domain.
	DefaultClusterDomain = "cluster.local"

	// DomainTemplateKey is the config-network key of the domain template.
	DomainTemplateKey = "domain-template"
	// TagTemplateKey is the config-network key of the tag template.
	TagTemplateKey = "tag-template"
	// RolloutDurationKey is the config-network key of the default rollout
	// duration, in integer seconds.
	RolloutDurationKey = "rollout-duration"
	// DefaultExternalSchemeKey is the config-network key of the URL scheme
	// of external hosts.
	DefaultExternalSchemeKey = "default-external-scheme"
	// TagHeaderRoutingKey is the config-features key that turns on
	// Knative-Serving-Tag header routing ("enabled"/"disabled").
	TagHeaderRoutingKey = "tag-header-based-routing"

	// VisibilityLabelKey on a Route (value "cluster-local") keeps it off
	// external hosts.
	VisibilityLabelKey = "networking.knative.dev/visibility"
	// VisibilityClusterLocal is the value of VisibilityLabelKey that makes a
	// Route cluster-local.
	VisibilityClusterLocal = "cluster-local"
	// RolloutDurationAnnotation on a Route (or Service) overrides the
	// config-network rollout duration, as a Go duration ("380s", "2m").
	RolloutDurationAnnotation = "serving.knative.dev/rollout-duration"
	// TagHeader is the request header that selects a tag on the default
	// host when tag header routing is on.
	TagHeader = "Knative-Serving-Tag"

	// legacy camelCase config-network keys, read first; kebab-case wins.
	legacyDomainTemplateKey  = "domainTemplate"
	legacyTagTemplateKey     = "tagTemplate"
	legacyRolloutDurationKey = "rolloutDuration"
	// legacyRolloutDurationAnnotation is the camelCase annotation.
	legacyRolloutDurationAnnotation = "serving.knative.dev/rolloutDuration"
)

// DomainRule is one config-domain entry: routes whose labels contain every
// Selector pair get Domain. An empty Selector matches every route.
type DomainRule struct {
	// Domain is the config-domain key, e.g. "example.com".
	Domain string
	// Selector is the entry's label selector; nil or empty matches all.
	Selector map[string]string
}

// Config is the cluster-wide routing configuration: the parts of
// config-network, config-domain and config-features that routing uses.
// The zero value is Knative's stock configuration: default templates, no
// rollout, http, the cluster domain cluster.local, no config-domain entries
// (so every route is cluster-local, as with Knative's stock config-domain),
// tag header routing off.
type Config struct {
	// DomainTemplate renders a host from Name, Namespace, Domain, Labels and
	// Annotations. Nil means DefaultDomainTemplate. Build it with
	// ParseDomainTemplate.
	DomainTemplate *template.Template
	// TagTemplate renders a tag's name from Name and Tag. Nil means
	// DefaultTagTemplate. Build it with ParseTagTemplate.
	TagTemplate *template.Template
	// RolloutDuration is config-network's rollout-duration; 0 means traffic
	// moves to a new revision at once.
	RolloutDuration time.Duration
	// DefaultExternalScheme is the scheme of external URLs; "" means "http".
	DefaultExternalScheme string
	// Domains are the config-domain rules. When no rule has an empty
	// selector, the cluster-local domain svc.<ClusterDomain> is the
	// fallback.
	Domains []DomainRule
	// ClusterDomain is the cluster's DNS domain; "" means "cluster.local".
	ClusterDomain string
	// TagHeaderRouting turns on Knative-Serving-Tag header routing on the
	// default host.
	TagHeaderRouting bool
}

// ConfigMaps holds the data of the config maps ConfigFromMaps reads. A nil
// map is an empty (stock) config map.
type ConfigMaps struct {
	Network  map[string]string // config-network
	Domain   map[string]string // config-domain
	Features map[string]string // config-features
}

// ConfigFromMaps parses config-network (domain-template, tag-template,
// rollout-duration, default-external-scheme, and the legacy camelCase keys,
// which the kebab-case keys override), config-domain and config-features
// (tag-header-based-routing) with Knative's defaults. Errors name the config
// map, the key and the bad value.
func ConfigFromMaps(m ConfigMaps) (Config, error) {
	var c Config
	n := m.Network
	if v, ok := pick(n, DomainTemplateKey, legacyDomainTemplateKey); ok && v != DefaultDomainTemplate {
		t, err := ParseDomainTemplate(v)
		if err != nil {
			return Config{}, fmt.Errorf("route: config-network: %s: %w", DomainTemplateKey, err)
		}
		c.DomainTemplate = t
	}
	if v, ok := pick(n, TagTemplateKey, legacyTagTemplateKey); ok && v != DefaultTagTemplate {
		t, err := ParseTagTemplate(v)
		if err != nil {
			return Config{}, fmt.Errorf("route: config-network: %s: %w", TagTemplateKey, err)
		}
		c.TagTemplate = t
	}
	if v, ok := pick(n, RolloutDurationKey, legacyRolloutDurationKey); ok {
		secs, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return Config{}, fmt.Errorf("route: config-network: %s: invalid integer %q: %w", RolloutDurationKey, v, err)
		}
		if secs < 0 {
			return Config{}, fmt.Errorf("route: config-network: %s: rollout-duration must be a positive integer, but was %d", RolloutDurationKey, secs)
		}
		if int64(secs) > int64(maxDuration/time.Second) {
			return Config{}, fmt.Errorf("route: config-network: %s: %d seconds is too long", RolloutDurationKey, secs)
		}
		c.RolloutDuration = time.Duration(secs) * time.Second
	}
	if v, ok := n[DefaultExternalSchemeKey]; ok {
		switch s := strings.ToLower(strings.TrimSpace(v)); s {
		case "http", "https":
			c.DefaultExternalScheme = s
		default:
			return Config{}, fmt.Errorf("route: config-network: %s: invalid value %q: want http or https", DefaultExternalSchemeKey, v)
		}
	}
	domains, err := DomainsFromMap(m.Domain)
	if err != nil {
		return Config{}, err
	}
	c.Domains = domains
	if v, ok := m.Features[TagHeaderRoutingKey]; ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "enabled":
			c.TagHeaderRouting = true
		case "disabled", "":
		default:
			return Config{}, fmt.Errorf("route: config-features: %s: invalid value %q: want enabled or disabled", TagHeaderRoutingKey, v)
		}
	}
	return c, nil
}

const maxDuration = time.Duration(1<<63 - 1)

// pick returns the value of key, or else of legacy.
func pick(m map[string]string, key, legacy string) (string, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	v, ok := m[legacy]
	return v, ok
}

// DomainTemplateValues is the data a domain template renders.
type DomainTemplateValues struct {
	Name        string            // the route name, or the tag's name from the tag template
	Namespace   string            // the route's namespace
	Domain      string            // the domain chosen from config-domain
	Annotations map[string]string // the route's annotations; nil means none
	Labels      map[string]string // the route's labels; nil means none
}

// TagTemplateValues is the data a tag template renders.
type TagTemplateValues struct {
	Name string // the route name
	Tag  string // the traffic tag
}

// ParseDomainTemplate parses a domain-template and checks it as Knative
// does: rendered for Name "foo", Namespace "bar", Domain "baz.com" it must
// give a parsable host with no path.
func ParseDomainTemplate(s string) (*template.Template, error) {
	t, err := template.New(DomainTemplateKey).Parse(s)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, DomainTemplateValues{Name: "foo", Namespace: "bar", Domain: "baz.com"}); err != nil {
		return nil, err
	}
	u, err := url.Parse("https://" + buf.String())
	if err != nil {
		return nil, err
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("template %q renders an empty hostname", s)
	}
	if u.RequestURI() != "/" {
		return nil, fmt.Errorf("domain template %q has url path: %s", s, u.RequestURI())
	}
	return t, nil
}

// ParseTagTemplate parses a tag-template and checks that it renders for
// Name "foo", Tag "bar".
func ParseTagTemplate(s string) (*template.Template, error) {
	t, err := template.New(TagTemplateKey).Parse(s)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, TagTemplateValues{Name: "foo", Tag: "bar"}); err != nil {
		return nil, err
	}
	return t, nil
}

// DomainsFromMap parses config-domain: each key is a domain, each value
// empty (matches every route) or a YAML label selector in the one shape
// Knative documents:
//
//	selector:
//	  app: nonprofit
//
// (the flow form "selector: {app: nonprofit}" is accepted too). The key
// "_example" is ignored. Rules are returned sorted by domain. Errors name the
// key.
func DomainsFromMap(m map[string]string) ([]DomainRule, error) {
	var out []DomainRule
	for k, v := range m {
		if k == "_example" {
			continue
		}
		if strings.TrimSpace(k) == "" {
			return nil, errors.New("route: config-domain: empty domain key")
		}
		sel, err := parseSelector(v)
		if err != nil {
			return nil, fmt.Errorf("route: config-domain: %s: %w", k, err)
		}
		out = append(out, DomainRule{Domain: k, Selector: sel})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Domain < out[j].Domain })
	return out, nil
}

// parseSelector parses the tiny YAML subset config-domain values use.
func parseSelector(v string) (map[string]string, error) {
	lines := strings.Split(strings.ReplaceAll(v, "\r\n", "\n"), "\n")
	var sel map[string]string
	inSelector := false
	selectorIndent, labelIndent := -1, -1
	for n, raw := range lines {
		line := stripComment(raw)
		if strings.TrimSpace(line) == "" {
			continue
		}
		if strings.Contains(line, "\t") {
			return nil, fmt.Errorf("line %d: tabs are not allowed in YAML indentation", n+1)
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		text := strings.TrimSpace(line)
		if !inSelector || indent <= selectorIndent {
			// Top level: only "selector:" or "{}" is known.
			if text == "{}" && sel == nil && !inSelector {
				continue
			}
			key, rest, ok := strings.Cut(text, ":")
			if !ok || strings.TrimSpace(unquote(key)) != "selector" {
				return nil, fmt.Errorf("line %d: unknown field %q: want selector", n+1, text)
			}
			if sel != nil || inSelector {
				return nil, fmt.Errorf("line %d: selector given twice", n+1)
			}
			rest = strings.TrimSpace(rest)
			sel = map[string]string{}
			if rest == "" {
				inSelector, selectorIndent = true, indent
				continue
			}
			if !strings.HasPrefix(rest, "{") || !strings.HasSuffix(rest, "}") {
				return nil, fmt.Errorf("line %d: selector must be a map of labels, got %q", n+1, rest)
			}
			body := strings.TrimSpace(rest[1 : len(rest)-1])
			if body != "" {
				for _, pair := range strings.Split(body, ",") {
					if err := addPair(sel, pair); err != nil {
						return nil, fmt.Errorf("line %d: %w", n+1, err)
					}
				}
			}
			inSelector, selectorIndent = true, 1<<30 // no block lines may follow
			continue
		}
		if labelIndent < 0 {
			labelIndent = indent
		} else if indent != labelIndent {
			return nil, fmt.Errorf("line %d: unexpected indentation: label values must be plain strings", n+1)
		}
		if err := addPair(sel, text); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
	}
	if len(sel) == 0 {
		return nil, nil
	}
	return sel, nil
}

func addPair(sel map[string]string, pair string) error {
	k, v, ok := strings.Cut(pair, ":")
	if !ok {
		return fmt.Errorf("label %q: want key: value", strings.TrimSpace(pair))
	}
	k, v = unquote(strings.TrimSpace(k)), unquote(strings.TrimSpace(v))
	if k == "" {
		return fmt.Errorf("label %q: empty key", strings.TrimSpace(pair))
	}
	if _, dup := sel[k]; dup {
		return fmt.Errorf("label %q given twice", k)
	}
	sel[k] = v
	return nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

func stripComment(line string) string {
	if i := strings.Index(line, "#"); i >= 0 && (i == 0 || line[i-1] == ' ') {
		return line[:i]
	}
	return line
}

// RolloutDurationFor returns the effective rollout duration of a route: its
// serving.knative.dev/rollout-duration annotation (or the camelCase
// serving.knative.dev/rolloutDuration) as a Go duration, or, when that is
// absent or zero, c.RolloutDuration. A negative or sub-second annotation is
// an error naming the annotation.
func (c Config) RolloutDurationFor(annotations map[string]string) (time.Duration, error) {
	key := RolloutDurationAnnotation
	v, ok := annotations[key]
	if !ok {
		key = legacyRolloutDurationAnnotation
		v, ok = annotations[key]
	}
	if !ok {
		return c.RolloutDuration, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("route: annotation %s: invalid duration %q: %w", key, v, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("route: annotation %s: rollout-duration=%s must be positive", key, v)
	}
	if d.Truncate(time.Second) != d {
		return 0, fmt.Errorf("route: annotation %s: rollout-duration=%s is not at second precision", key, v)
	}
	if d == 0 {
		return c.RolloutDuration, nil
	}
	return d, nil
}
