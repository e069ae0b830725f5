package webhook

import (
	"reflect"
	"sort"
	"strings"
)

// patchOp is one RFC 6902 JSON Patch operation.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// diff appends to ops the operations that turn before into after at path, both
// JSON-decoded values (maps, slices, strings, float64, bools, nil; nil meaning
// absent). Objects are compared key by key, so a patch touches only what changed;
// anything else that differs (a list, a scalar, a type) is replaced whole. Keys
// are visited in order, so the same input gives the same patch.
func diff(ops []patchOp, path string, before, after any) []patchOp {
	if reflect.DeepEqual(before, after) {
		return ops
	}
	switch {
	case after == nil:
		return append(ops, patchOp{Op: "remove", Path: path})
	case before == nil:
		return append(ops, patchOp{Op: "add", Path: path, Value: after})
	}
	b, bok := before.(map[string]any)
	a, aok := after.(map[string]any)
	if !bok || !aok {
		return append(ops, patchOp{Op: "replace", Path: path, Value: after})
	}
	keys := make([]string, 0, len(a)+len(b))
	for k := range b {
		keys = append(keys, k)
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		bv, inB := b[k]
		av, inA := a[k]
		p := path + "/" + escape(k)
		switch {
		case inB && !inA:
			ops = append(ops, patchOp{Op: "remove", Path: p})
		case !inB:
			ops = append(ops, patchOp{Op: "add", Path: p, Value: av})
		case bv == nil && av != nil:
			ops = append(ops, patchOp{Op: "replace", Path: p, Value: av})
		default:
			ops = diff(ops, p, bv, av)
		}
	}
	return ops
}

// escape is a JSON Pointer reference token (RFC 6901): "~" is "~0", "/" is "~1".
func escape(k string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
}

// pruneNulls removes, recursively, the null members of the objects in v, and the
// objects left empty by that: what a typed round trip writes for a zero value
// (`"creationTimestamp": null`, `"metadata": {"creationTimestamp": null}`), which
// the request did not say and the patch should not add.
func pruneNulls(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		if l, ok := v.([]any); ok {
			for i := range l {
				if p := pruneNulls(l[i]); p != nil {
					l[i] = p
				}
			}
		}
		return v
	}
	for k, c := range m {
		if c == nil {
			delete(m, k)
			continue
		}
		if cm, ok := c.(map[string]any); ok && len(cm) > 0 {
			if pruneNulls(cm) == nil {
				delete(m, k)
			}
			continue
		}
		if _, isMap := c.(map[string]any); !isMap {
			m[k] = pruneNulls(c) // lists: their objects pruned; an empty object stays
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}
