package manifests

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/servekit/servekit/serving/v1"
)

// FuzzWatcherScan writes arbitrary contents over a file that was applied: Scan must
// not panic, must either apply the new contents or reject them (keeping the
// objects applied before), never delete, and must not report the same contents
// twice.
func FuzzWatcherScan(f *testing.F) {
	for _, seed := range []string{
		route,
		"",
		"# only a comment\n---\n",
		"kind: [Service\n",
		route[:len(route)/2],
		route + "---\n" + strings.Replace(route, "name: r", "name: r2", 1),
		`{"apiVersion":"serving.knative.dev/v1","kind":"Route","metadata":{"name":"j"},"spec":{"traffic":[{"configurationName":"c","percent":100}]}}`,
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
		"a: &a [*a]\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		a := filepath.Join(dir, "a.yaml")
		if err := os.WriteFile(a, []byte(route), 0o644); err != nil {
			t.Fatal(err)
		}
		fa := &fakeApplier{}
		w := NewWatcher(dir, fa, nil, 0)
		w.Scan()
		if calls := fa.takeCalls(); len(calls) != 1 || calls[0] != "apply a.yaml r" {
			t.Fatalf("first scan: %q", calls)
		}
		if err := os.WriteFile(a, data, 0o644); err != nil {
			t.Fatal(err)
		}
		w.Scan()
		calls := fa.takeCalls()
		switch {
		case string(data) == route:
			if len(calls) != 0 {
				t.Fatalf("unchanged contents: %q, want no call", calls)
			}
		case len(calls) != 1:
			t.Fatalf("calls = %q, want one apply or reject", calls)
		case strings.HasPrefix(calls[0], "apply a.yaml "):
			if docs, err := v1.Decode(bytes.NewReader(data), v1.DecodeOptions{Strict: true}); err != nil || len(docs) == 0 {
				t.Fatalf("applied %d objects of a file that decodes with %v", len(docs), err)
			}
		case strings.HasPrefix(calls[0], "reject a.yaml: "):
			if got := fa.held("a.yaml"); got != "r" {
				t.Fatalf("rejected, but the objects of a.yaml are %q, want r kept", got)
			}
		default:
			t.Fatalf("calls = %q, want one apply or reject", calls)
		}
		w.Scan()
		if again := fa.takeCalls(); len(again) != 0 {
			t.Fatalf("unchanged since the last scan: %q, want no call", again)
		}
	})
}
