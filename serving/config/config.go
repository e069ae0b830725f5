// Package config reads Knative Serving's configuration ConfigMaps from files, as a
// platform without an API server keeps them: config-autoscaler, config-defaults,
// config-network, config-domain, config-gc, config-features and config-deployment
// (its progress-deadline and queue-sidecar-drain-stream-deadline), in Kubernetes ConfigMap YAML, and parses each with the
// servekit package that owns it (autoscaler, serving/v1, route, serving/gc). Every
// key is optional; a missing map means Knative's defaults.
//
// LoadDir reads a directory once; a [Watcher] follows it, so that a changed config
// map takes effect without a restart, and a map that does not parse keeps its last
// good values.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/route"
	"github.com/servekit/servekit/serving/gc"
	"github.com/servekit/servekit/serving/internal/safefile"
	v1 "github.com/servekit/servekit/serving/v1"
)

// Config is the parsed configuration, what serving/controller's Options take
// (Defaults, Autoscaler, Network, GC).
type Config struct {
	Defaults v1.Defaults // config-defaults
	// Autoscaler is config-autoscaler, and config-deployment's progress-deadline
	// (as Autoscaler.ProgressDeadline).
	Autoscaler autoscaler.Config
	Network    route.Config // config-network, config-domain, config-features
	GC         gc.Config    // config-gc
	// DrainStreamDeadline is config-deployment's queue-sidecar-drain-stream-deadline:
	// how long a draining pod's queue proxy lets long-lived streams (websockets,
	// gRPC calls, event streams) go on before it closes them cleanly
	// (queue.ProxyOptions.DrainStreamDeadline, the sidecar's
	// SERVEKIT_DRAIN_STREAM_DEADLINE). Zero (the key absent) means each revision's
	// timeoutSeconds.
	DrainStreamDeadline time.Duration
	// Ignored lists, sorted, the ConfigMaps read that servekit does not use (Knative's
	// config-observability, config-logging, ...): accepted, so that
	// Knative's whole config directory can be copied, and for the caller to warn about.
	Ignored []string
}

// names are the ConfigMaps LoadDir parses; any other is listed in Config.Ignored.
var names = []string{"config-autoscaler", "config-defaults", "config-network", "config-domain", "config-gc", "config-features", "config-deployment"}

// ProgressDeadlineKey is the config-deployment key of the progress deadline.
const ProgressDeadlineKey = "progress-deadline"

// DrainStreamDeadlineKey is the config-deployment key of the queue proxies' drain
// stream deadline (Config.DrainStreamDeadline), a servekit key named as Knative
// names its other queue-sidecar settings there.
const DrainStreamDeadlineKey = "queue-sidecar-drain-stream-deadline"

// LoadDir reads every *.yaml and *.yml file of dir (not hidden ones: a file written
// as ".x.yaml" and renamed is read whole) as Kubernetes ConfigMaps (several per
// file, as YAML documents) and parses them: config-autoscaler, config-defaults,
// config-network, config-domain, config-gc, config-features and config-deployment;
// a ConfigMap of any other name is listed in Config.Ignored and otherwise skipped;
// one given twice is an error. An empty dir reads nothing: Knative's defaults.
// domain becomes the config-domain (the domain of every route) when no
// config-domain is given.
//
// Errors name the file, the document's index and the field, or the ConfigMap and
// its key.
func LoadDir(dir, domain string) (Config, error) {
	maps := map[string]map[string]string{}
	files, err := listDir(dir)
	if err != nil {
		return Config{}, err
	}
	for _, path := range files {
		fm, err := readFile(path)
		if err != nil {
			return Config{}, err
		}
		for _, cm := range fm {
			if _, dup := maps[cm.name]; dup {
				return Config{}, fmt.Errorf("config: %s: document %d: metadata.name: %s given twice", path, cm.doc, cm.name)
			}
			maps[cm.name] = cm.data
		}
	}
	c, err := parse(maps, domain)
	c.Ignored = ignored(maps)
	return c, err
}

// ignored lists, sorted, the names of maps that servekit does not use.
func ignored(maps map[string]map[string]string) []string {
	var out []string
	for name := range maps {
		if !slices.Contains(names, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// listDir returns the paths of the config files of dir, sorted; "" has none.
func listDir(dir string) ([]string, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		out = append(out, filepath.Join(dir, name))
	}
	return out, nil
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
	if c.Autoscaler.ProgressDeadline, err = progressDeadline(maps["config-deployment"]); err != nil {
		return c, fmt.Errorf("config-deployment: %w", err)
	}
	if c.DrainStreamDeadline, err = drainStreamDeadline(maps["config-deployment"]); err != nil {
		return c, fmt.Errorf("config-deployment: %w", err)
	}
	return c, nil
}

// drainStreamDeadline parses config-deployment's queue-sidecar-drain-stream-deadline
// as the sidecar reads its SERVEKIT_DRAIN_STREAM_DEADLINE: a positive Go duration or
// a number of seconds; absent or empty means 0 (the revision timeout).
func drainStreamDeadline(data map[string]string) (time.Duration, error) {
	v := strings.TrimSpace(data[DrainStreamDeadlineKey])
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if n, nerr := strconv.ParseInt(v, 10, 64); nerr == nil && n < int64(math.MaxInt64/time.Second) {
		d, err = time.Duration(n)*time.Second, nil // plain seconds
	}
	switch {
	case err != nil:
		return 0, fmt.Errorf("%s: invalid duration %q (want e.g. 30s, or a number of seconds)", DrainStreamDeadlineKey, v)
	case d <= 0:
		return 0, fmt.Errorf("%s: %q is not a positive duration", DrainStreamDeadlineKey, v)
	}
	return d, nil
}

// progressDeadline parses config-deployment's progress-deadline with Knative's
// rules: a Go duration, positive, whole seconds; absent means 600 s.
func progressDeadline(data map[string]string) (time.Duration, error) {
	v, ok := data[ProgressDeadlineKey]
	if !ok {
		return autoscaler.DefaultProgressDeadline, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	switch {
	case err != nil:
		return 0, fmt.Errorf("%s: invalid duration %q: %w", ProgressDeadlineKey, v, err)
	case d <= 0:
		return 0, fmt.Errorf("%s: %q cannot be a non-positive duration", ProgressDeadlineKey, v)
	case d.Truncate(time.Second) != d:
		return 0, fmt.Errorf("%s: %q must be rounded to a whole second", ProgressDeadlineKey, v)
	}
	return d, nil
}

// MaxFileBytes bounds one config file: 1 MiB, a ConfigMap's size limit in
// Kubernetes.
const MaxFileBytes = 1 << 20

// configMap is one ConfigMap of a file.
type configMap struct {
	name string
	doc  int // the YAML document's index in its file, from 1
	data map[string]string
}

// readFile reads and decodes the ConfigMaps of one file. A name given twice in
// the file is an error.
func readFile(path string) ([]configMap, error) {
	data, err := safefile.Read(path, MaxFileBytes)
	if err != nil {
		return nil, readErr(path, err)
	}
	return decode(path, data)
}

// decode decodes the ConfigMaps of one file's content.
func decode(path string, data []byte) ([]configMap, error) {
	var out []configMap
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("config: %s: document %d: %w", path, i, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var cm corev1.ConfigMap
		if err := yaml.Unmarshal(doc, &cm); err != nil {
			return nil, fmt.Errorf("config: %s: document %d: %w", path, i, err)
		}
		if cm.Kind != "ConfigMap" {
			return nil, fmt.Errorf("config: %s: document %d: kind: %q, want ConfigMap", path, i, cm.Kind)
		}
		if cm.Name == "" {
			return nil, fmt.Errorf("config: %s: document %d: metadata.name: required", path, i)
		}
		if slices.ContainsFunc(out, func(o configMap) bool { return o.name == cm.Name }) {
			return nil, fmt.Errorf("config: %s: document %d: metadata.name: %s given twice", path, i, cm.Name)
		}
		d := cm.Data
		if d == nil {
			d = map[string]string{}
		}
		out = append(out, configMap{name: cm.Name, doc: i, data: d})
	}
}
