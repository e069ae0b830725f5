// Package config reads Knative Serving's configuration ConfigMaps from files, as a
// platform without an API server keeps them: config-autoscaler, config-defaults,
// config-network, config-domain, config-gc and config-features, in Kubernetes
// ConfigMap YAML, and parses each with the servekit package that owns it
// (autoscaler, serving/v1, route, serving/gc). Every key is optional; a missing map
// means Knative's defaults.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/route"
	"github.com/servekit/servekit/serving/gc"
	v1 "github.com/servekit/servekit/serving/v1"
)

// Config is the parsed configuration, what serving/controller's Options take
// (Defaults, Autoscaler, Network, GC).
type Config struct {
	Defaults   v1.Defaults       // config-defaults
	Autoscaler autoscaler.Config // config-autoscaler
	Network    route.Config      // config-network, config-domain, config-features
	GC         gc.Config         // config-gc
	// Ignored lists, sorted, the ConfigMaps read that servekit does not use (Knative's
	// config-deployment, config-observability, config-logging, ...): accepted, so that
	// Knative's whole config directory can be copied, and for the caller to warn about.
	Ignored []string
}

// names are the ConfigMaps LoadDir parses; any other is listed in Config.Ignored.
var names = []string{"config-autoscaler", "config-defaults", "config-network", "config-domain", "config-gc", "config-features"}

// LoadDir reads every *.yaml and *.yml file of dir as Kubernetes ConfigMaps (several
// per file, as YAML documents) and parses them: config-autoscaler, config-defaults,
// config-network, config-domain, config-gc and config-features; a ConfigMap of any
// other name is listed in Config.Ignored and otherwise skipped; one given twice is an
// error. An empty dir reads
// nothing: Knative's defaults. domain becomes the config-domain (the domain of every
// route) when no config-domain is given.
//
// Errors name the file, the document's index and the field, or the ConfigMap and
// its key.
func LoadDir(dir, domain string) (Config, error) {
	maps := map[string]map[string]string{}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
				continue
			}
			if err := readConfigMaps(filepath.Join(dir, name), maps); err != nil {
				return Config{}, err
			}
		}
	}
	c, err := parse(maps, domain)
	for name := range maps {
		if !slices.Contains(names, name) {
			c.Ignored = append(c.Ignored, name)
		}
	}
	slices.Sort(c.Ignored)
	return c, err
}

// parse parses the ConfigMaps' data, by name.
func parse(maps map[string]map[string]string, domain string) (Config, error) {
	var c Config
	var err error
	if c.Defaults, err = v1.DefaultsFromMap(maps["config-defaults"]); err != nil {
		return c, fmt.Errorf("config-defaults: %w", err)
	}
	if c.Autoscaler, err = autoscaler.ConfigFromMap(maps["config-autoscaler"]); err != nil {
		return c, fmt.Errorf("config-autoscaler: %w", err)
	}
	domainMap := maps["config-domain"]
	if domainMap == nil {
		domainMap = map[string]string{domain: ""}
	}
	if c.Network, err = route.ConfigFromMaps(route.ConfigMaps{
		Network: maps["config-network"], Domain: domainMap, Features: maps["config-features"],
	}); err != nil {
		return c, err
	}
	if c.GC, err = gc.ConfigFromMap(maps["config-gc"]); err != nil {
		return c, fmt.Errorf("config-gc: %w", err)
	}
	return c, nil
}

// readConfigMaps decodes the ConfigMaps of one file into maps, by name.
func readConfigMaps(path string, maps map[string]map[string]string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("config: %s: document %d: %w", path, i, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var cm corev1.ConfigMap
		if err := yaml.Unmarshal(doc, &cm); err != nil {
			return fmt.Errorf("config: %s: document %d: %w", path, i, err)
		}
		if cm.Kind != "ConfigMap" {
			return fmt.Errorf("config: %s: document %d: kind: %q, want ConfigMap", path, i, cm.Kind)
		}
		if cm.Name == "" {
			return fmt.Errorf("config: %s: document %d: metadata.name: required", path, i)
		}
		if _, dup := maps[cm.Name]; dup {
			return fmt.Errorf("config: %s: document %d: metadata.name: %s given twice", path, i, cm.Name)
		}
		data := cm.Data
		if data == nil {
			data = map[string]string{}
		}
		maps[cm.Name] = data
	}
}
