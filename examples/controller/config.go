package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/route"
	"github.com/servekit/servekit/serving/gc"
	v1 "github.com/servekit/servekit/serving/v1"
)

// platformConfig is the configuration read from --config DIR (Knative's config maps)
// and --domain.
type platformConfig struct {
	defaults   v1.Defaults
	autoscaler autoscaler.Config
	network    route.Config
	gc         gc.Config
}

// knownConfigMaps are the config maps --config reads.
var knownConfigMaps = []string{"config-autoscaler", "config-defaults", "config-network", "config-domain", "config-gc", "config-features"}

// loadConfig reads every *.yaml / *.yml file of dir (which may be empty: Knative's
// defaults) as Kubernetes ConfigMaps and parses the ones servekit knows. domain
// becomes the config-domain when no config-domain is given.
func loadConfig(dir, domain string) (platformConfig, error) {
	maps := map[string]map[string]string{}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return platformConfig{}, fmt.Errorf("--config: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
				continue
			}
			path := filepath.Join(dir, name)
			if err := readConfigMaps(path, maps); err != nil {
				return platformConfig{}, err
			}
		}
	}
	var pc platformConfig
	var err error
	if pc.defaults, err = v1.DefaultsFromMap(maps["config-defaults"]); err != nil {
		return pc, fmt.Errorf("config-defaults: %w", err)
	}
	if pc.autoscaler, err = autoscaler.ConfigFromMap(maps["config-autoscaler"]); err != nil {
		return pc, fmt.Errorf("config-autoscaler: %w", err)
	}
	domainMap := maps["config-domain"]
	if domainMap == nil {
		domainMap = map[string]string{domain: ""}
	}
	if pc.network, err = route.ConfigFromMaps(route.ConfigMaps{
		Network: maps["config-network"], Domain: domainMap, Features: maps["config-features"],
	}); err != nil {
		return pc, err
	}
	if pc.gc, err = gc.ConfigFromMap(maps["config-gc"]); err != nil {
		return pc, fmt.Errorf("config-gc: %w", err)
	}
	return pc, nil
}

// readConfigMaps decodes the ConfigMaps of one file into maps, by name.
func readConfigMaps(path string, maps map[string]map[string]string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	r := utilyaml.NewYAMLReader(bufioReader(data))
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, ioEOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("--config %s: document %d: %w", path, i, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var cm corev1.ConfigMap
		if err := yaml.Unmarshal(doc, &cm); err != nil {
			return fmt.Errorf("--config %s: document %d: %w", path, i, err)
		}
		if cm.Kind != "ConfigMap" {
			return fmt.Errorf("--config %s: document %d: kind: %q, want ConfigMap", path, i, cm.Kind)
		}
		known := false
		for _, k := range knownConfigMaps {
			known = known || cm.Name == k
		}
		if !known {
			return fmt.Errorf("--config %s: document %d: metadata.name: %q is not one of %s", path, i, cm.Name, strings.Join(knownConfigMaps, ", "))
		}
		if _, dup := maps[cm.Name]; dup {
			return fmt.Errorf("--config %s: document %d: metadata.name: %s given twice", path, i, cm.Name)
		}
		data := cm.Data
		if data == nil {
			data = map[string]string{}
		}
		maps[cm.Name] = data
	}
}
