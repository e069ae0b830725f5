package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/servekit/servekit/serving/controller"
	v1 "github.com/servekit/servekit/serving/v1"
)

// maxManifestFileBytes bounds one manifest file (the Kubernetes API server's limit).
const maxManifestFileBytes = maxManifestBytes

// watcher applies the manifests of a directory to a controller, polling for changes:
// a new or changed file is applied, a removed file deletes its objects, and a file
// that does not decode or validate is reported and changes nothing.
type watcher struct {
	dir      string
	ctrl     *controller.Controller
	log      *slog.Logger
	interval time.Duration
	seen     map[string][32]byte // file → content hash of its last version
}

func newWatcher(dir string, ctrl *controller.Controller, log *slog.Logger, interval time.Duration) *watcher {
	return &watcher{dir: dir, ctrl: ctrl, log: log, interval: interval, seen: map[string][32]byte{}}
}

// run scans until ctx is done.
func (w *watcher) run(ctx context.Context) error {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			w.scan()
		}
	}
}

// scan looks at the directory once.
func (w *watcher) scan() {
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		w.log.Error("manifests: cannot read the directory", "dir", w.dir, "err", err)
		return
	}
	present := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".json")) {
			continue
		}
		path := filepath.Join(w.dir, name)
		present[path] = true
		data, err := readLimited(path)
		if err != nil {
			w.ctrl.Reject(path, err)
			continue
		}
		sum := sha256.Sum256(data)
		if old, ok := w.seen[path]; ok && old == sum {
			continue
		}
		w.seen[path] = sum
		w.apply(path, data)
	}
	for _, path := range slices.Sorted(mapsKeys(w.seen)) {
		if !present[path] {
			delete(w.seen, path)
			w.log.Info("manifest removed; deleting its objects", "file", path)
			w.ctrl.Delete(path)
		}
	}
}

// apply decodes a file strictly (unknown fields are errors with their path) and
// applies its objects.
func (w *watcher) apply(path string, data []byte) {
	docs, err := v1.Decode(bytes.NewReader(data), v1.DecodeOptions{Strict: true})
	if err != nil {
		w.ctrl.Reject(path, fmt.Errorf("%s: %w", path, err))
		return
	}
	objs := make([]v1.Object, 0, len(docs))
	for _, d := range docs {
		objs = append(objs, d.Object)
	}
	if err := w.ctrl.Apply(path, objs); err != nil {
		return // the controller logged it and lists it in its status
	}
	w.log.Info("manifest applied", "file", path, "objects", len(objs))
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxManifestFileBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxManifestFileBytes)
	}
	return data, nil
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
