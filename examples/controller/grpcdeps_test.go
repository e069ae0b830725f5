package main

import (
	"os/exec"
	"strings"
	"testing"
)

// google.golang.org/grpc is a test-only dependency (issue 13): no package of the
// module, the binaries included, may import it outside its tests.
func TestGRPCIsTestOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/servekit/servekit/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "google.golang.org/grpc") {
			t.Errorf("a non-test package depends on %s", dep)
		}
	}
}
