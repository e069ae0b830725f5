package manifests

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	v1 "github.com/servekit/servekit/serving/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeApplier records the calls of a Watcher, and holds the objects of each
// source as a controller would: Apply replaces them, Reject keeps them, Delete
// removes them. It is safe for concurrent use (Run in one goroutine, the test in
// another).
type fakeApplier struct {
	mu      sync.Mutex
	calls   []string
	objects map[string]string // base name of the source → its objects' names
	fail    bool              // Apply returns an error
}

func (f *fakeApplier) Apply(source string, objs []v1.Object) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for _, o := range objs {
		names = append(names, o.GetName())
	}
	f.calls = append(f.calls, "apply "+filepath.Base(source)+" "+strings.Join(names, ","))
	if f.fail {
		return errors.New("refused")
	}
	if f.objects == nil {
		f.objects = map[string]string{}
	}
	f.objects[filepath.Base(source)] = strings.Join(names, ",")
	return nil
}

func (f *fakeApplier) Reject(source string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "reject "+filepath.Base(source)+": "+err.Error())
}

func (f *fakeApplier) Delete(source string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "delete "+filepath.Base(source))
	delete(f.objects, filepath.Base(source))
}

// takeCalls returns the calls so far and forgets them.
func (f *fakeApplier) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// held returns the objects the applier holds for the source of base name file.
func (f *fakeApplier) held(file string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.objects[file]
}

const route = `apiVersion: serving.knative.dev/v1
kind: Route
metadata:
  name: r
spec:
  traffic:
    - configurationName: c
      percent: 100
`

func TestWatcherScan(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", route)
	write(".hidden.yaml", route)
	write("notes.txt", "not a manifest")
	write("b.json", `{"apiVersion":"serving.knative.dev/v1","kind":"Route","metadata":{"name":"j"},"spec":{"traffic":[{"configurationName":"c","percent":100}]}}`)
	if err := os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := &fakeApplier{}
	w := NewWatcher(dir, f, nil, 0)
	w.Scan()
	w.Scan()
	write("a.yaml", route+"  trafic: []\n")
	w.Scan()
	write("a.yaml", strings.Repeat("#", MaxFileBytes+1))
	w.Scan()
	w.Scan()
	if err := os.Remove(filepath.Join(dir, "b.json")); err != nil {
		t.Fatal(err)
	}
	w.Scan()
	a := filepath.Join(dir, "a.yaml")
	want := []string{
		"apply a.yaml r",
		"apply b.json j",
		"reject a.yaml: " + a + ": document 1: spec.trafic: unknown field",
		"reject a.yaml: " + a + ": larger than 3145728 bytes", // once, not at every scan
		"delete b.json",
	}
	if diff := cmp.Diff(want, f.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestWatcherMissingDirectoryChangesNothing(t *testing.T) {
	f := &fakeApplier{}
	NewWatcher(filepath.Join(t.TempDir(), "nope"), f, nil, 0).Scan()
	if len(f.calls) != 0 {
		t.Errorf("calls = %q, want none", f.calls)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := NewWatcher(t.TempDir(), &fakeApplier{}, nil, time.Millisecond).Run(ctx); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestValidateFile(t *testing.T) {
	dir := t.TempDir()
	multi := filepath.Join(dir, "multi.yaml")
	if err := os.WriteFile(multi, []byte(route+"---\n"+strings.Replace(route, "percent: 100", "percent: 10", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, problems := ValidateFile(multi, v1.StockDefaults())
	if diff := cmp.Diff([]string{multi + "#2: spec.traffic: Traffic targets sum to 10, want 100"}, problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if len(objs) != 2 {
		t.Errorf("%d objects, want 2", len(objs))
	}
	huge := filepath.Join(dir, "huge.yaml")
	if err := os.WriteFile(huge, []byte(strings.Repeat("#", MaxFileBytes+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, problems := ValidateFile(huge, v1.StockDefaults()); len(problems) != 1 || !strings.Contains(problems[0], "larger than") {
		t.Errorf("huge file: %q, want one 'larger than' problem", problems)
	}
}

// A file that becomes empty or half-written (an editor's non-atomic save) keeps the
// objects it last applied, rejected once per change, until it is valid again or
// removed; removing it still deletes them (issue 17, case 9). The Watcher logs no
// WARN of its own: the Applier reports the rejection (one line per bad file).
func TestWatcherKeepsObjectsOfEmptyOrHalfWrittenFile(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(a, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	f := &fakeApplier{}
	w := NewWatcher(dir, f, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})), 0)
	// step makes a change, scans twice, and checks the one call it made (by
	// prefix), the objects held for a.yaml and the number of WARN lines.
	step := func(name string, change func(), wantCall, wantHeld string, wantWarns int) {
		t.Helper()
		logs.Reset()
		change()
		w.Scan()
		w.Scan() // unchanged: nothing more
		calls := f.takeCalls()
		if len(calls) != 1 || !strings.HasPrefix(calls[0], wantCall) {
			t.Errorf("%s: calls = %q, want one starting with %q", name, calls, wantCall)
		}
		if got := f.held("a.yaml"); got != wantHeld {
			t.Errorf("%s: objects of a.yaml = %q, want %q", name, got, wantHeld)
		}
		if got := strings.Count(logs.String(), "level=WARN"); got != wantWarns {
			t.Errorf("%s: %d WARN lines, want %d:\n%s", name, got, wantWarns, logs.String())
		}
	}
	writes := func(body string) func() { return func() { write(body) } }
	empty := "reject a.yaml: " + a + ": " + ErrNoObjects.Error()
	step("valid", writes(route), "apply a.yaml r", "r", 0)
	step("empty", writes(""), empty, "r", 0)
	step("comments only", writes("# saving...\n---\n"), empty, "r", 0)
	step("half-written", writes(route[:strings.Index(route, "spec:")]+"spe"), "reject a.yaml: "+a+": document 1: ", "r", 0)
	step("valid again", writes(strings.Replace(route, "name: r", "name: r2", 1)), "apply a.yaml r2", "r2", 0)
	step("removed", func() {
		if err := os.Remove(a); err != nil {
			t.Fatal(err)
		}
	}, "delete a.yaml", "", 0)
	step("new and empty", writes(""), empty, "", 0)
}

// TestWatcherAdopt: sources a restarted controller restored are decided at the first
// scan: a file still present is applied again, one gone is deleted (before any
// apply), and nothing is done twice.
func TestWatcherAdopt(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	if err := os.WriteFile(a, []byte(route), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &fakeApplier{}
	w := NewWatcher(dir, f, nil, 0)
	w.Adopt([]string{a, filepath.Join(dir, "gone.yaml"), filepath.Join(t.TempDir(), "elsewhere.yaml")})
	w.Scan()
	w.Scan()
	want := []string{"delete gone.yaml", "delete elsewhere.yaml", "apply a.yaml r"} // deletes sorted by path: elsewhere is in a later temp dir
	if diff := cmp.Diff(want, f.takeCalls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// TestWatcherRename: a file renamed between two scans deletes its objects before
// applying them from the new name, so that an Applier that refuses objects owned by
// another source (the controller) does not refuse them.
func TestWatcherRename(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	if err := os.WriteFile(a, []byte(route), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &fakeApplier{}
	w := NewWatcher(dir, f, nil, 0)
	w.Scan()
	if err := os.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	w.Scan()
	want := []string{"apply a.yaml r", "delete a.yaml", "apply b.yaml r"}
	if diff := cmp.Diff(want, f.takeCalls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}
