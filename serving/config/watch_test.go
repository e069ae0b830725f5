package config_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/servekit/servekit/serving/config"
)

// cm returns a ConfigMap document.
func cm(name string, kv ...string) string {
	s := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n"
	for i := 0; i+1 < len(kv); i += 2 {
		s += "  " + kv[i] + ": \"" + kv[i+1] + "\"\n"
	}
	return s
}

// watchRecorder records what a Watcher reports.
type watchRecorder struct {
	changes [][]string
	errs    map[string]string // by file: the error in effect
	log     bytes.Buffer
	mu      sync.Mutex
}

func newWatcher(t *testing.T, dir string) (*config.Watcher, *watchRecorder) {
	t.Helper()
	r := &watchRecorder{errs: map[string]string{}}
	w, _, err := config.NewWatcher(config.WatcherOptions{
		Dir: dir, Domain: "example.com",
		Logger:   slog.New(slog.NewTextHandler(&lockedWriter{w: &r.log, mu: &r.mu}, nil)),
		OnChange: func(_ config.Config, changed []string) { r.changes = append(r.changes, changed) },
		OnError: func(file string, err error) {
			if err == nil {
				delete(r.errs, file)
				return
			}
			r.errs[file] = err.Error()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return w, r
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (r *watchRecorder) logged() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.log.String()
	r.log.Reset()
	return s
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A changed config map replaces the last one, with one log line naming the map and
// the keys; an unchanged scan reports nothing.
func TestWatcherAppliesAChange(t *testing.T) {
	dir := t.TempDir()
	as, gcFile := filepath.Join(dir, "autoscaler.yaml"), filepath.Join(dir, "gc.yaml")
	write(t, as, cm("config-autoscaler", "stable-window", "30s", "min-scale", "0"))
	write(t, gcFile, cm("config-gc", "min-non-active-revisions", "3"))
	w, r := newWatcher(t, dir)
	if got := w.Config().Autoscaler.StableWindow; got != 30*time.Second {
		t.Fatalf("initial stable-window = %v, want 30s", got)
	}
	w.Scan()
	if len(r.changes) != 0 {
		t.Fatalf("a scan without a change reported %v", r.changes)
	}

	write(t, as, cm("config-autoscaler", "stable-window", "40s", "min-scale", "0", "scale-down-delay", "5s", "tick-interval", "3s"))
	w.Scan()
	if diff := cmp.Diff([][]string{{"config-autoscaler"}}, r.changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if c := w.Config(); c.Autoscaler.StableWindow != 40*time.Second || c.Autoscaler.ScaleDownDelay != 5*time.Second || c.GC.MinNonActiveRevisions != 3 {
		t.Errorf("config after the change: stable-window %v, scale-down-delay %v, gc min %d; want 40s, 5s, 3",
			c.Autoscaler.StableWindow, c.Autoscaler.ScaleDownDelay, c.GC.MinNonActiveRevisions)
	}
	logged := r.logged()
	if n := strings.Count(logged, "config map changed"); n != 1 ||
		!strings.Contains(logged, "configMap=config-autoscaler") ||
		!strings.Contains(logged, "keys=\"[scale-down-delay stable-window tick-interval]\"") ||
		!strings.Contains(logged, "notUsedByServekit=[tick-interval]") {
		t.Errorf("log = %q, want one line naming config-autoscaler, its changed keys and the unused one", logged)
	}

	// A removed file: its maps return to Knative's defaults.
	if err := os.Remove(gcFile); err != nil {
		t.Fatal(err)
	}
	w.Scan()
	if got := w.Config().GC.MinNonActiveRevisions; got != 20 {
		t.Errorf("gc min-non-active-revisions after its file is removed = %d, want the default 20", got)
	}
}

// A map that does not parse keeps its last good values while the others change;
// the error names the file and the key until the file is fixed.
func TestWatcherKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	as, dom := filepath.Join(dir, "autoscaler.yaml"), filepath.Join(dir, "domain.yaml")
	write(t, as, cm("config-autoscaler", "stable-window", "30s"))
	write(t, dom, cm("config-domain", "example.com", ""))
	w, r := newWatcher(t, dir)

	write(t, as, cm("config-autoscaler", "stable-window", "2s", "min-scale", "3"))
	write(t, dom, cm("config-domain", "example.org", ""))
	w.Scan()
	c := w.Config()
	if c.Autoscaler.StableWindow != 30*time.Second || c.Autoscaler.MinScale != 0 {
		t.Errorf("a bad config-autoscaler applied: stable-window %v, min-scale %d; want the last good 30s, 0", c.Autoscaler.StableWindow, c.Autoscaler.MinScale)
	}
	if got := c.Network.Domain(nil); got != "example.org" {
		t.Errorf("domain = %q, want example.org: a good map changes beside a bad one", got)
	}
	if e := r.errs[as]; !strings.Contains(e, as) || !strings.Contains(e, "stable-window") || !strings.Contains(e, "keeps its last good values") {
		t.Errorf("error of %s = %q, want it to name the file, the key and what it keeps", as, e)
	}
	if !strings.Contains(r.logged(), "level=ERROR") {
		t.Error("the bad map was not logged as an error")
	}

	// Half-written (not YAML): every map of the file keeps its last good values.
	write(t, dom, "apiVersion: v1\nkind: ConfigMap\nmetadata: [\n")
	w.Scan()
	if got := w.Config().Network.Domain(nil); got != "example.org" {
		t.Errorf("domain with a half-written file = %q, want the last good example.org", got)
	}
	if e := r.errs[dom]; !strings.Contains(e, dom) || !strings.Contains(e, "document 1") {
		t.Errorf("error of %s = %q, want the file and the document", dom, e)
	}

	// Emptied (truncated before being written again): the same.
	write(t, dom, "")
	w.Scan()
	if got := w.Config().Network.Domain(nil); got != "example.org" {
		t.Errorf("domain with an emptied file = %q, want the last good example.org", got)
	}
	if e := r.errs[dom]; !strings.Contains(e, "no ConfigMap") {
		t.Errorf("error of the emptied %s = %q, want it to say it holds no ConfigMap", dom, e)
	}

	// Fixed: the errors go, the new values apply.
	write(t, as, cm("config-autoscaler", "stable-window", "20s", "min-scale", "3"))
	write(t, dom, cm("config-domain", "example.net", ""))
	w.Scan()
	if len(r.errs) != 0 {
		t.Errorf("errors after the fix: %v", r.errs)
	}
	if c := w.Config(); c.Autoscaler.StableWindow != 20*time.Second || c.Autoscaler.MinScale != 3 || c.Network.Domain(nil) != "example.net" {
		t.Errorf("after the fix: stable-window %v, min-scale %d, domain %q; want 20s, 3, example.net", c.Autoscaler.StableWindow, c.Autoscaler.MinScale, c.Network.Domain(nil))
	}
}

// A map given in two files keeps its last good values, with an error naming both;
// a map servekit does not use is listed in Ignored and warned about once.
func TestWatcherDuplicatesAndIgnored(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	write(t, a, cm("config-gc", "min-non-active-revisions", "3"))
	w, r := newWatcher(t, dir)
	write(t, b, cm("config-gc", "min-non-active-revisions", "5")+"---\n"+cm("config-observability"))
	w.Scan()
	if got := w.Config().GC.MinNonActiveRevisions; got != 3 {
		t.Errorf("min-non-active-revisions = %d, want the last good 3", got)
	}
	if e := r.errs[b]; !strings.Contains(e, "config-gc given twice") || !strings.Contains(e, a) {
		t.Errorf("error of b.yaml = %q, want it to name the map and a.yaml", e)
	}
	if diff := cmp.Diff([]string{"config-observability"}, w.Config().Ignored); diff != "" {
		t.Errorf("Ignored (-want +got):\n%s", diff)
	}
	if logged := r.logged(); strings.Count(logged, "not used by servekit") != 1 {
		t.Errorf("log = %q, want one warning about config-observability", logged)
	}
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	w.Scan()
	if got := w.Config().GC.MinNonActiveRevisions; got != 5 || len(r.errs) != 0 {
		t.Errorf("after removing a.yaml: min-non-active-revisions = %d, errors %v; want 5, none", got, r.errs)
	}
}

// NewWatcher fails as LoadDir does, naming the file and the key.
func TestNewWatcherErrors(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.yaml"), cm("config-autoscaler", "stable-window", "2s"))
	if _, _, err := config.NewWatcher(config.WatcherOptions{Dir: dir}); err == nil || !strings.Contains(err.Error(), "stable-window") {
		t.Errorf("NewWatcher = %v, want an error naming stable-window", err)
	}
	if _, _, err := config.NewWatcher(config.WatcherOptions{}); err == nil || !strings.Contains(err.Error(), "Dir") {
		t.Errorf("NewWatcher without a Dir = %v, want an error naming it", err)
	}
}

// Run scans every interval until its context is done.
func TestWatcherRun(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gc.yaml")
	write(t, file, cm("config-gc", "min-non-active-revisions", "3"))
	changes := make(chan config.Config, 1)
	w, _, err := config.NewWatcher(config.WatcherOptions{Dir: dir, Interval: 10 * time.Millisecond,
		OnChange: func(c config.Config, _ []string) { changes <- c }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	write(t, file, cm("config-gc", "min-non-active-revisions", "4"))
	select {
	case c := <-changes:
		if c.GC.MinNonActiveRevisions != 4 {
			t.Errorf("min-non-active-revisions = %d, want 4", c.GC.MinNonActiveRevisions)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no change seen within 30s")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}
