package controller_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/manifests"
	v1 "github.com/servekit/servekit/serving/v1"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// take returns what was written and empties the buffer.
func (s *syncBuffer) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.b.String()
	s.b.Reset()
	return out
}

// A bad manifest is logged once, in one line, whether it cannot be decoded or
// fails validation, and whether or not it keeps the objects of an earlier version
// (issue 17: the watcher logged a WARN and the controller an ERROR for the same
// file).
func TestBadManifestLogsOneLine(t *testing.T) {
	dir := t.TempDir()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := controller.New(controller.Options{Backend: newFakeBackend(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	w := manifests.NewWatcher(dir, c, log, 0)
	file := filepath.Join(dir, "hello.yaml")
	const valid = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
spec:
  template:
    spec:
      containers:
        - image: example.com/hello
`
	for _, step := range []struct {
		name, body string
		lines      int    // lines at WARN or above
		want       string // in the line
	}{
		{"new and not YAML", "{{{", 1, "nothing changed"},
		{"valid", valid, 0, ""},
		{"half-written", valid[:strings.Index(valid, "spec:")] + "spe", 1, "keeping the objects it last applied"},
		{"empty", "", 1, "keeping the objects it last applied"},
		{"invalid field", strings.Replace(valid, "example.com/hello", "", 1), 1, "keeping the objects it last applied"},
		{"valid again", valid, 0, ""},
	} {
		if err := os.WriteFile(file, []byte(step.body), 0o644); err != nil {
			t.Fatal(err)
		}
		w.Scan()
		w.Scan() // unchanged: nothing more
		got := logs.take()
		lines := strings.Count(got, "\n")
		if lines != step.lines || !strings.Contains(got, step.want) || (step.lines > 0 && !strings.Contains(got, file)) {
			t.Errorf("%s: logged %d lines, want %d naming %s with %q:\n%s", step.name, lines, step.lines, file, step.want, got)
		}
	}
}

// revisionReports records the revision reports a controller makes.
type revisionReports struct {
	mu      sync.Mutex
	deleted []string
	live    map[string]bool
}

func (r *revisionReports) ReportRequest(controller.RequestReport)              {}
func (r *revisionReports) ReportColdStart(types.NamespacedName, time.Duration) {}
func (r *revisionReports) ReportRevision(rep controller.RevisionReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.live == nil {
		r.live = map[string]bool{}
	}
	if rep.Deleted {
		r.deleted = append(r.deleted, rep.Key.Name+"/"+rep.Service)
		delete(r.live, rep.Key.Name)
		return
	}
	r.live[rep.Key.Name] = true
}

func (r *revisionReports) state() (live int, deleted []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.live), slices.Clone(r.deleted)
}

// Deleting a Service reports its revision deleted, so a metrics Reporter removes
// its series (issue 17: a deleted revision kept reporting ready_pods 1).
func TestDeletedRevisionIsReported(t *testing.T) {
	reports := &revisionReports{}
	c, err := controller.New(controller.Options{Backend: newFakeBackend(), Reporter: reports})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply("hello.yaml", []v1.Object{testService("hello", "example.com/hello")}); err != nil {
		t.Fatal(err)
	}
	run(t, c)
	waitFor(t, "hello-00001 reported", func() bool { live, _ := reports.state(); return live == 1 })
	c.Delete("hello.yaml")
	waitFor(t, "hello-00001 reported deleted", func() bool { live, del := reports.state(); return live == 0 && len(del) == 1 })
	if _, del := reports.state(); del[0] != "hello-00001/hello" {
		t.Errorf("deleted reports = %q, want hello-00001/hello", del)
	}
}
