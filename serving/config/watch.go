package config

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/route"
	"github.com/servekit/servekit/serving/gc"
	"github.com/servekit/servekit/serving/internal/safefile"
)

// DefaultInterval is how often a [Watcher] looks at its directory when
// WatcherOptions.Interval is zero.
const DefaultInterval = time.Second

// ErrNoConfigMaps is a [Watcher]'s error for a file that held config maps and
// holds none now (empty, or only comments): its maps keep their last good values,
// as for a file half written, until it holds them again or is removed.
var ErrNoConfigMaps = errors.New("no ConfigMap in the file (it held some; remove the file to drop them)")

// WatcherOptions configure a [Watcher]. Only Dir is required.
type WatcherOptions struct {
	// Dir is the config directory, as LoadDir reads it; required.
	Dir string
	// Domain is LoadDir's domain: the domain of routes while no config-domain is
	// given. "" means example.com.
	Domain string
	// Interval is how often Dir is looked at; zero means DefaultInterval.
	Interval time.Duration
	// Logger receives one line per config map that changed (naming the map, its
	// file and the keys), and the errors; nil discards.
	Logger *slog.Logger
	// OnChange, if not nil, receives the whole new Config after one or more of
	// servekit's config maps changed, with their names, sorted. It is called from
	// the goroutine that calls Scan or Run.
	OnChange func(c Config, changed []string)
	// OnError, if not nil, is called when a file's error appears or changes, and
	// with a nil err when the file is fixed or removed. The error names the file
	// and the config map and key, or the YAML document; the maps of that file keep
	// their last good values. It is called from the goroutine that calls Scan or
	// Run.
	OnError func(file string, err error)
}

// A Watcher follows a config directory, polling it: a config map that changed
// (a file's content changed, by hash, or a file came or went) is parsed again
// and, if valid, replaces the last good one; OnChange then receives the new
// Config. Each config map stands alone, as in Knative: a map that does not parse
// keeps its last good values, and the error is reported (OnError, log) with the
// file and the key until the file is fixed or removed; the other maps still
// change. A file that cannot be read or decoded as a whole (an editor's half-saved
// file), or that held maps and is empty now ([ErrNoConfigMaps]), keeps every map it
// last held. A removed map, or a removed file's maps,
// return to Knative's defaults. A config map servekit does not use is logged as
// ignored once, when it appears.
//
// A Watcher is not safe for concurrent use: call Scan and Run from one goroutine.
type Watcher struct {
	o     WatcherOptions
	log   *slog.Logger
	files map[string]*watchedFile // by path: the files present at the last scan
	// good is the last good data of each config map present, by name, and from
	// the file each came from.
	good map[string]map[string]string
	from map[string]string
	errs map[string]string // by file: the errors reported
	cur  Config
}

// watchedFile is what a Watcher remembers of one file between scans.
type watchedFile struct {
	sum  [32]byte    // content hash of the last version read; valid if read
	read bool        // the last read succeeded (its content decoded or not)
	maps []configMap // the last version that decoded
	err  error       // the error of the last read or decode; nil if it succeeded
}

// NewWatcher reads o.Dir as LoadDir does, and returns a Watcher of it and the
// Config read; an error (which LoadDir would return) means no Watcher.
func NewWatcher(o WatcherOptions) (*Watcher, Config, error) {
	if o.Domain == "" {
		o.Domain = "example.com"
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	w := &Watcher{o: o, log: o.Logger, files: map[string]*watchedFile{}, good: map[string]map[string]string{},
		from: map[string]string{}, errs: map[string]string{}}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if o.Dir == "" {
		return nil, Config{}, errors.New("config: WatcherOptions.Dir is required")
	}
	paths, err := listDir(o.Dir)
	if err != nil {
		return nil, Config{}, err
	}
	for _, path := range paths {
		data, err := safefile.Read(path, MaxFileBytes)
		if err != nil {
			return nil, Config{}, readErr(path, err)
		}
		cms, err := decode(path, data)
		if err != nil {
			return nil, Config{}, err
		}
		w.files[path] = &watchedFile{sum: sha256.Sum256(data), read: true, maps: cms}
		for _, cm := range cms {
			if other, dup := w.from[cm.name]; dup {
				return nil, Config{}, fmt.Errorf("config: %s: document %d: metadata.name: %s given twice (also in %s)", path, cm.doc, cm.name, other)
			}
			w.good[cm.name], w.from[cm.name] = cm.data, path
		}
	}
	c, err := parse(w.good, o.Domain)
	if err != nil {
		return nil, Config{}, err
	}
	c.Ignored = ignored(w.good)
	w.cur = c
	return w, c, nil
}

// Config returns the config in effect: the last good version of every map.
func (w *Watcher) Config() Config { return w.cur }

// Run scans the directory every interval until ctx is done; it returns nil then.
func (w *Watcher) Run(ctx context.Context) error {
	t := time.NewTicker(w.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			w.Scan()
		}
	}
}

// Scan looks at the directory once and applies what changed since the last scan.
// A directory that cannot be read is reported (OnError with the directory) and
// changes nothing.
func (w *Watcher) Scan() {
	paths, err := listDir(w.o.Dir)
	w.setErrors(w.o.Dir, err)
	if err != nil {
		return
	}
	changed := false
	present := map[string]bool{}
	for _, path := range paths {
		present[path] = true
		f, known := w.files[path]
		if !known {
			f = &watchedFile{}
			w.files[path] = f
		}
		data, err := safefile.Read(path, MaxFileBytes)
		if err != nil {
			err = readErr(path, err)
			if f.err == nil || f.err.Error() != err.Error() {
				f.err, changed = err, true
			}
			f.read = false
			continue
		}
		sum := sha256.Sum256(data)
		if known && f.read && f.sum == sum {
			continue // the same content: the same maps, or the same error
		}
		changed, f.sum, f.read = true, sum, true
		cms, err := decode(path, data)
		if err == nil && len(cms) == 0 && len(f.maps) > 0 {
			// Emptied, as an editor's non-atomic save (truncate, then write) leaves
			// it for a moment: only removing the file drops its maps.
			err = fmt.Errorf("config: %s: %w", path, ErrNoConfigMaps)
		}
		if err != nil {
			f.err = err // f.maps, its last good version, stay
			continue
		}
		f.err, f.maps = nil, cms
	}
	for path := range w.files {
		if !present[path] {
			delete(w.files, path)
			changed = true
		}
	}
	if changed {
		w.update()
	}
}

// update recomputes the config maps from the files, accepts each changed map that
// parses, and reports what changed and the errors.
func (w *Watcher) update() {
	errs := map[string][]string{}
	cand := map[string]map[string]string{}
	src := map[string]string{}
	dups := map[string]bool{}
	for _, path := range slices.Sorted(maps.Keys(w.files)) {
		f := w.files[path]
		if f.err != nil {
			what := "its config maps keep their last good values"
			if len(f.maps) == 0 {
				what = "nothing of it is applied"
			}
			errs[path] = append(errs[path], fmt.Sprintf("%v (%s)", f.err, what))
		}
		for _, cm := range f.maps {
			if other, dup := src[cm.name]; dup {
				errs[path] = append(errs[path], fmt.Sprintf("config: %s: document %d: metadata.name: %s given twice (also in %s; it keeps its last good values)", path, cm.doc, cm.name, other))
				dups[cm.name] = true
				continue
			}
			cand[cm.name], src[cm.name] = cm.data, path
		}
	}
	for name := range dups {
		delete(cand, name)
		if old, ok := w.good[name]; ok {
			cand[name], src[name] = old, w.from[name]
		}
	}

	next := maps.Clone(w.good)
	from := maps.Clone(w.from)
	var changed []string
	for _, name := range slices.Sorted(maps.Keys(union(cand, w.good))) {
		data, present := cand[name]
		old, had := w.good[name]
		if present == had && maps.Equal(withoutExample(data), withoutExample(old)) {
			if present {
				from[name] = src[name]
			}
			continue
		}
		trial := maps.Clone(next)
		if present {
			trial[name] = data
		} else {
			delete(trial, name)
		}
		known := slices.Contains(names, name)
		if known {
			if _, err := parse(trial, w.o.Domain); err != nil {
				file := src[name]
				if file == "" {
					file = w.from[name]
				}
				errs[file] = append(errs[file], fmt.Sprintf("config: %s: %v (%s keeps its last good values)", file, err, name))
				continue
			}
		}
		next = trial
		if present {
			from[name] = src[name]
		} else {
			delete(from, name)
		}
		w.logChange(name, old, data, had, present, src[name])
		if known {
			changed = append(changed, name)
		}
	}
	w.good, w.from = next, from
	ign := ignored(next)
	if len(changed) > 0 {
		c, err := parse(next, w.o.Domain)
		if err != nil { // cannot happen: every map accepted parsed with the others
			w.log.Error("config: the accepted config maps do not parse together; keeping the last good config", "err", err)
		} else {
			c.Ignored = ign
			w.cur = c
			if w.o.OnChange != nil {
				w.o.OnChange(c, changed)
			}
		}
	}
	w.cur.Ignored = ign
	// Report the files whose error appeared, changed or went.
	files := slices.Collect(maps.Keys(w.errs))
	for f := range errs {
		if _, ok := w.errs[f]; !ok {
			files = append(files, f)
		}
	}
	slices.Sort(files)
	for _, file := range files {
		if file == w.o.Dir {
			continue
		}
		var err error
		if len(errs[file]) > 0 {
			err = errors.New(strings.Join(errs[file], "; "))
		}
		w.setErrors(file, err)
	}
}

// setErrors records and reports file's error (nil: none) if it changed.
func (w *Watcher) setErrors(file string, err error) {
	old, had := w.errs[file]
	switch {
	case err == nil && !had:
		return
	case err == nil:
		delete(w.errs, file)
		w.log.Info("config: file fixed; its config maps apply", "file", file)
	case had && old == err.Error():
		return
	default:
		w.errs[file] = err.Error()
		w.log.Error("config: file not valid; the config maps it holds keep their last good values", "file", file, "err", err)
	}
	if w.o.OnError != nil {
		w.o.OnError(file, err)
	}
}

// logChange writes the one line of a config map's change.
func (w *Watcher) logChange(name string, old, data map[string]string, had, present bool, file string) {
	keys := changedKeys(old, data)
	switch {
	case !slices.Contains(names, name):
		if !had {
			w.log.Warn("config: config map not used by servekit; ignored", "configMap", name, "file", file)
		}
		return
	case !present:
		w.log.Info("config: config map removed; Knative's defaults apply", "configMap", name, "keys", keys)
		return
	}
	attrs := []any{"configMap", name, "file", file, "keys", keys}
	if unused := unusedKeys(name, keys); len(unused) > 0 {
		attrs = append(attrs, "notUsedByServekit", unused)
	}
	if name == "config-defaults" {
		attrs = append(attrs, "note", "applies to manifests applied from now on (new or changed); the others keep their defaults until they change or the platform restarts")
	}
	if name == "config-deployment" && slices.Contains(keys, DrainStreamDeadlineKey) {
		attrs = append(attrs, "note", DrainStreamDeadlineKey+" applies to revisions created from now on, as a Deployment's sidecar settings do")
	}
	w.log.Info("config: config map changed", attrs...)
}

// usedKeys lists, by config map, the keys servekit reads; config-defaults and
// config-domain are read whole (every config-domain key is a domain).
var usedKeys = map[string][]string{
	"config-autoscaler": {
		autoscaler.KeyPodAutoscalerClass, autoscaler.KeyEnableScaleToZero, autoscaler.KeyContainerConcurrencyTargetPct,
		autoscaler.KeyContainerConcurrencyTargetDef, autoscaler.KeyRPSTargetDefault, autoscaler.KeyTargetBurstCapacity,
		autoscaler.KeyStableWindow, autoscaler.KeyPanicWindowPercentage, autoscaler.KeyPanicThresholdPercentage,
		autoscaler.KeyMaxScaleUpRate, autoscaler.KeyMaxScaleDownRate, autoscaler.KeyActivatorCapacity,
		autoscaler.KeyScaleToZeroGracePeriod, autoscaler.KeyScaleToZeroPodRetentionPeriod, autoscaler.KeyScaleDownDelay,
		autoscaler.KeyInitialScale, autoscaler.KeyAllowZeroInitialScale, autoscaler.KeyMinScale, autoscaler.KeyMaxScale,
		autoscaler.KeyMaxScaleLimit,
	},
	"config-network": {
		route.DomainTemplateKey, route.TagTemplateKey, route.RolloutDurationKey, route.DefaultExternalSchemeKey,
		"domainTemplate", "tagTemplate", "rolloutDuration",
	},
	"config-features":   {route.TagHeaderRoutingKey},
	"config-gc":         {gc.RetainSinceCreateTimeKey, gc.RetainSinceLastActiveTimeKey, gc.MinNonActiveRevisionsKey, gc.MaxNonActiveRevisionsKey},
	"config-deployment": {ProgressDeadlineKey, DrainStreamDeadlineKey},
}

// unusedKeys returns the keys of name that servekit does not read.
func unusedKeys(name string, keys []string) []string {
	used, ok := usedKeys[name]
	if !ok {
		return nil
	}
	var out []string
	for _, k := range keys {
		if !slices.Contains(used, k) {
			out = append(out, k)
		}
	}
	return out
}

// changedKeys lists, sorted, the keys added, removed or changed from a to b,
// but "_example" (Knative's documentation block).
func changedKeys(a, b map[string]string) []string {
	var out []string
	for k := range union(a, b) {
		va, ina := a[k]
		vb, inb := b[k]
		if k != "_example" && (ina != inb || va != vb) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// withoutExample is m without its "_example" key, which changes nothing.
func withoutExample(m map[string]string) map[string]string {
	if _, ok := m["_example"]; !ok {
		return m
	}
	m = maps.Clone(m)
	delete(m, "_example")
	return m
}

// union returns the set of the keys of a and b.
func union[V any](a, b map[string]V) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// readErr is a read error of path as LoadDir reports it.
func readErr(path string, err error) error {
	if errors.Is(err, safefile.ErrTooLarge) || errors.Is(err, safefile.ErrNotRegular) {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return fmt.Errorf("config: %w", err)
}
