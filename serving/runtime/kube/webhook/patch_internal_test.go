package webhook

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiff(t *testing.T) {
	before := map[string]any{"a": 1.0, "b": map[string]any{"x/y": "old", "gone": true}, "l": []any{1.0}}
	after := pruneNulls(map[string]any{"a": 1.0, "b": map[string]any{"x/y": "new", "n~": nil, "e": map[string]any{"z": nil}}, "l": []any{2.0}, "c": "added"})
	got := diff(nil, "/spec", before, after)
	want := []patchOp{
		{Op: "remove", Path: "/spec/b/gone"},
		{Op: "replace", Path: "/spec/b/x~1y", Value: "new"},
		{Op: "add", Path: "/spec/c", Value: "added"},
		{Op: "replace", Path: "/spec/l", Value: []any{2.0}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("diff (-want +got):\n%s", d)
	}
	if ops := diff(nil, "/spec", before, before); len(ops) != 0 {
		t.Errorf("diff of equal values = %v, want none", ops)
	}
	if ops := diff(nil, "/spec", nil, map[string]any{"k": "v"}); len(ops) != 1 || ops[0].Op != "add" || ops[0].Path != "/spec" {
		t.Errorf("diff from absent = %v, want one add at /spec", ops)
	}
	if got := escape("a~b/c"); got != "a~0b~1c" {
		t.Errorf("escape = %q", got)
	}
}
