package route

import (
	"errors"
	"maps"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// FuzzConfigFromMaps feeds arbitrary values to every key this package
// reads. It must never panic; a config it accepts must render hosts or
// return a *HostError; a config-domain selector it accepts must survive a
// round trip through its YAML form.
func FuzzConfigFromMaps(f *testing.F) {
	f.Add(DefaultDomainTemplate, DefaultTagTemplate, "0", "http", "", "enabled")
	f.Add("{{.Name}}-{{.Namespace}}.{{.Domain}}", "{{.Name}}-{{.Tag}}", "380", "https", "selector:\n  app: x\n", "disabled")
	f.Add("{{.Name}}.{{.Domain}}/x", "{{.Tag}}", "-1", "ftp", "selector: {a: b, c: 'd'}", "yes")
	f.Add(`{{index .Labels "team"}}.{{.Domain}}`, "{{.Nope}}", "9999999999999999999", "", "selector:\n\tapp: x", "")
	f.Add("{{.Name", "{{", "1e3", "HTTP", "labels:\n  a: b\nselector:\n  c: d # comment\n", "Enabled")
	f.Fuzz(func(t *testing.T, domainTmpl, tagTmpl, rollout, scheme, selector, feature string) {
		c, err := ConfigFromMaps(ConfigMaps{
			Network: map[string]string{
				DomainTemplateKey: domainTmpl, TagTemplateKey: tagTmpl,
				RolloutDurationKey: rollout, DefaultExternalSchemeKey: scheme,
			},
			Domain:   map[string]string{"example.com": selector},
			Features: map[string]string{TagHeaderRoutingKey: feature},
		})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "route: config-") {
				t.Fatalf("error %q does not name the config map", err)
			}
			return
		}
		if c.RolloutDuration < 0 {
			t.Fatalf("negative rollout duration %v accepted", c.RolloutDuration)
		}
		_, err = c.Hosts(Route{Name: "hello", Namespace: "default", Labels: map[string]string{"team": "a"},
			Traffic: []Target{{ConfigurationName: "c", Percent: pct(100), Tag: "beta"}}})
		var he *HostError
		if err != nil && !errors.As(err, &he) {
			t.Fatalf("Hosts() = %v, want nil or *HostError", err)
		}
		// Round trip of the selector through its YAML block form.
		sel := c.Domains[0].Selector
		if sel == nil || !yamlSafe(sel) {
			return
		}
		back, err := DomainsFromMap(map[string]string{"example.com": selectorYAML(sel)})
		if err != nil {
			t.Fatalf("re-parse of %q: %v", selectorYAML(sel), err)
		}
		if !maps.Equal(sel, back[0].Selector) {
			t.Fatalf("round trip: %v -> %v", sel, back[0].Selector)
		}
	})
}

// yamlSafe reports whether the selector's keys and values are plain words,
// which the block form can carry without quoting.
func yamlSafe(sel map[string]string) bool {
	for k, v := range sel {
		for _, s := range []string{k, v} {
			if s != strings.TrimSpace(s) || strings.ContainsAny(s, ":#\"'\n\r\t{},") {
				return false
			}
		}
		if k == "" {
			return false
		}
	}
	return true
}

func selectorYAML(sel map[string]string) string {
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("selector:\n")
	for _, k := range keys {
		b.WriteString("  " + k + ": " + sel[k] + "\n")
	}
	return b.String()
}

// FuzzValidateTargets builds up to three targets from fuzzed fields. It must
// never panic; every error must name spec.traffic; targets it accepts must
// sum to 100 with unique DNS-label tags, resolve against a lookup that has
// everything, and give splits a Picker accepts.
func FuzzValidateTargets(f *testing.F) {
	f.Add("", "c", "", int64(100), uint8(0), "", "", "", int64(0), uint8(0), "x", "r", "", int64(0), uint8(0))
	f.Add("canary", "", "r-1", int64(90), uint8(2), "canary", "c", "", int64(10), uint8(1), "", "", "", int64(0), uint8(0))
	f.Add("Bad_Tag", "c", "r", int64(150), uint8(1), "", "", "", int64(-50), uint8(2), "", "c", "", int64(0), uint8(0))
	f.Fuzz(func(t *testing.T,
		tag1, rev1, cfg1 string, p1 int64, l1 uint8,
		tag2, rev2, cfg2 string, p2 int64, l2 uint8,
		tag3, rev3, cfg3 string, p3 int64, l3 uint8) {
		mk := func(tag, rev, cfg string, p int64, l uint8) Target {
			tt := Target{Tag: tag, RevisionName: rev, ConfigurationName: cfg, Percent: &p}
			switch l % 4 {
			case 1:
				tt.LatestRevision = ptrBool(true)
			case 2:
				tt.LatestRevision = ptrBool(false)
			case 3:
				tt.Percent = nil
			}
			return tt
		}
		all := []Target{mk(tag1, rev1, cfg1, p1, l1), mk(tag2, rev2, cfg2, p2, l2), mk(tag3, rev3, cfg3, p3, l3)}
		for n := 1; n <= len(all); n++ {
			targets := all[:n]
			for _, validate := range []func([]Target) error{ValidateTargets, ValidateServiceTargets} {
				err := validate(targets)
				if err != nil {
					var ve *ValidationError
					if !errors.As(err, &ve) || len(ve.Errors) == 0 {
						t.Fatalf("error %v is not a non-empty *ValidationError", err)
					}
					for _, fe := range ve.Errors {
						if !strings.HasPrefix(fe.Path(), TrafficPath) || fe.Index >= len(targets) {
							t.Fatalf("bad path %q for %d targets", fe.Path(), len(targets))
						}
					}
					continue
				}
				checkAccepted(t, targets)
			}
		}
	})
}

func checkAccepted(t *testing.T, targets []Target) {
	t.Helper()
	var sum int64
	tags := map[string]bool{}
	lookup := MapLookup{Configurations: map[string]Configuration{}, Revisions: map[string]Revision{}}
	for _, tt := range targets {
		sum += tt.EffectivePercent()
		if tt.Tag != "" {
			if tags[tt.Tag] || len(validation.IsDNS1035Label(tt.Tag)) > 0 {
				t.Fatalf("accepted bad or duplicate tag %q", tt.Tag)
			}
			tags[tt.Tag] = true
		}
		if tt.ConfigurationName != "" {
			lookup.Configurations[tt.ConfigurationName] = Configuration{LatestReadyRevisionName: tt.ConfigurationName + "-latest", Ready: StatusTrue}
			lookup.Revisions[tt.ConfigurationName+"-latest"] = Revision{Ready: StatusTrue, ConfigurationName: tt.ConfigurationName}
		}
		if tt.RevisionName != "" {
			lookup.Revisions[tt.RevisionName] = Revision{Ready: StatusTrue}
		}
	}
	if sum != 100 {
		t.Fatalf("accepted targets summing to %d", sum)
	}
	tr, err := Resolve(targets, lookup)
	if err != nil {
		t.Fatalf("Resolve() = %v", err)
	}
	for name := range tr.Groups {
		splits := tr.Splits(name, nil)
		total := 0
		for _, s := range splits {
			total += s.Percent
		}
		if total == 0 {
			continue // a Service target with neither name resolves to nothing
		}
		if _, err := NewPicker(splits); err != nil {
			t.Fatalf("group %q splits %v: %v", name, splits, err)
		}
	}
}

// FuzzRollout parses arbitrary rollout state and steps it towards a goal:
// no panic, and the result is always consistent.
func FuzzRollout(f *testing.F) {
	f.Add(`{"configurations":[{"configurationName":"cfg","percent":100,"revisions":[{"revisionName":"a","percent":96},{"revisionName":"b","percent":4}],"stepParams":{"starttime":1,"nextStepTime":2,"stepDuration":3000000000,"stepSize":3}}]}`, "c", 100, int64(5))
	f.Add(`{"configurations":[{"configurationName":"cfg","percent":50,"revisions":[{"revisionName":"a","percent":50}],"stepParams":{"starttime":1}}]}`, "a", 30, int64(0))
	f.Fuzz(func(t *testing.T, state, rev string, p int, secs int64) {
		prev, err := ParseRollout(state)
		if err != nil {
			return
		}
		if p < 0 || p > 100 || rev == "" {
			return
		}
		now := t0.Add(time.Duration(secs%100_000) * time.Second)
		got, _ := Advance(goal(rev, p), prev, 120*time.Second, true, now)
		if !got.Valid() {
			t.Fatalf("Advance(%s) = invalid %s", state, got.JSON())
		}
	})
}
