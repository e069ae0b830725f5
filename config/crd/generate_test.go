package crd_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCRDsUpToDate regenerates the CRDs from serving/v1 into a temporary directory
// (the commands of doc.go's go:generate) and compares them with the committed files:
// a field added to a type but missing from the CRD would be pruned by the API server
// without a word. Skipped with -short (it builds controller-gen once per machine).
func TestCRDsUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("regenerating the CRDs runs controller-gen")
	}
	tmp := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("go", args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("run", "sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0",
		"crd:generateEmbeddedObjectMeta=true,maxDescLen=0", "paths=../../serving/v1/...;../../serving/v1beta1/...", "output:crd:dir="+tmp)
	files, err := filepath.Glob(filepath.Join(tmp, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("controller-gen wrote no CRD: %v", err)
	}
	run(append([]string{"run", "../../hack/crdpatch"}, files...)...)
	committed, _ := filepath.Glob("*.yaml")
	if len(committed) != len(files) {
		t.Errorf("%d CRDs committed, %d generated", len(committed), len(files))
	}
	for _, f := range files {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Base(f))
		if err != nil {
			t.Errorf("%s is generated but not committed", filepath.Base(f))
			continue
		}
		if !bytes.Equal(want, got) {
			t.Errorf("config/crd/%s is stale: run `go generate ./config/crd` and commit the result", filepath.Base(f))
		}
	}
}
