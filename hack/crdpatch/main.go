// Command crdpatch adjusts the CRDs that controller-gen generates from serving/v1 to
// what Knative accepts, in place:
//
//   - containers and initContainers of a revision template may leave name empty (the
//     controller names them user-container, as Knative's defaulting webhook does), so
//     name is not required and the lists are atomic (a list-map needs its key).
//
// Usage (from config/crd's go:generate): go run ../../hack/crdpatch FILE...
package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"

	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: crdpatch FILE...")
		os.Exit(2)
	}
	for _, f := range os.Args[1:] {
		if err := patchFile(f); err != nil {
			fmt.Fprintln(os.Stderr, "crdpatch:", err)
			os.Exit(1)
		}
	}
}

func patchFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	n := patch(doc)
	out, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	if bytes.HasPrefix(b, []byte("---\n")) {
		out = append([]byte("---\n"), out...)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return err
	}
	fmt.Printf("crdpatch: %s: %d container lists relaxed\n", path, n)
	return nil
}

// patch walks every schema and relaxes the container lists; it returns how many.
func patch(node any) int {
	n := 0
	switch v := node.(type) {
	case map[string]any:
		if props, ok := v["properties"].(map[string]any); ok {
			for _, name := range []string{"containers", "initContainers"} {
				if relax(props[name]) {
					n++
				}
			}
		}
		for _, child := range v {
			n += patch(child)
		}
	case []any:
		for _, child := range v {
			n += patch(child)
		}
	}
	return n
}

// relax makes a container list atomic with an optional name.
func relax(node any) bool {
	list, ok := node.(map[string]any)
	if !ok || list["type"] != "array" {
		return false
	}
	items, ok := list["items"].(map[string]any)
	if !ok {
		return false
	}
	if _, ok := items["properties"].(map[string]any)["image"]; !ok {
		return false // not a container list
	}
	list["x-kubernetes-list-type"] = "atomic"
	delete(list, "x-kubernetes-list-map-keys")
	if req, ok := items["required"].([]any); ok {
		req = slices.DeleteFunc(req, func(r any) bool { return r == "name" })
		if len(req) == 0 {
			delete(items, "required")
		} else {
			items["required"] = req
		}
	}
	return true
}
