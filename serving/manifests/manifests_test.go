package manifests

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	v1 "github.com/servekit/servekit/serving/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeApplier records the calls of a Watcher.
type fakeApplier struct {
	calls []string
	fail  bool // Apply returns an error
}

func (f *fakeApplier) Apply(source string, objs []v1.Object) error {
	var names []string
	for _, o := range objs {
		names = append(names, o.GetName())
	}
	f.calls = append(f.calls, "apply "+filepath.Base(source)+" "+strings.Join(names, ","))
	if f.fail {
		return errors.New("refused")
	}
	return nil
}

func (f *fakeApplier) Reject(source string, err error) {
	f.calls = append(f.calls, "reject "+filepath.Base(source)+": "+err.Error())
}

func (f *fakeApplier) Delete(source string) {
	f.calls = append(f.calls, "delete "+filepath.Base(source))
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
	if err := os.Remove(filepath.Join(dir, "b.json")); err != nil {
		t.Fatal(err)
	}
	w.Scan()
	a := filepath.Join(dir, "a.yaml")
	want := []string{
		"apply a.yaml r",
		"apply b.json j",
		"reject a.yaml: " + a + ": document 1: spec.trafic: unknown field",
		"reject a.yaml: " + a + ": larger than 3145728 bytes",
		"reject a.yaml: " + a + ": larger than 3145728 bytes",
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
