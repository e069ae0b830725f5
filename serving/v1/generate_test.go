package v1

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestDeepCopyUpToDate runs the generator of doc.go (controller-gen object) into a
// temporary directory and compares its output with the committed
// zz_generated.deepcopy.go: a field added to a type but not to its DeepCopyInto would
// be shared between copies, the bug the snapshots exist to prevent. Skipped with
// -short (it builds controller-gen once per machine).
func TestDeepCopyUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("regenerating the deep copies runs controller-gen")
	}
	dir := t.TempDir()
	out, err := exec.Command("go", "run", "sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0",
		"object", "paths=.", "output:object:dir="+dir).CombinedOutput()
	if err != nil {
		t.Fatalf("controller-gen: %v\n%s", err, out)
	}
	want, err := os.ReadFile(filepath.Join(dir, "zz_generated.deepcopy.go"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("zz_generated.deepcopy.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, got) {
		t.Error("serving/v1/zz_generated.deepcopy.go is stale: run `go generate ./serving/v1` and commit the result")
	}
}
