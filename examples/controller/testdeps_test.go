package main

import (
	"os/exec"
	"strings"
	"testing"
)

// google.golang.org/grpc and github.com/coder/websocket are test-only dependencies
// (issue 13): no package of the module, the binaries included, may import them
// outside its tests.
func TestTestOnlyDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/servekit/servekit/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "google.golang.org/grpc") || strings.HasPrefix(dep, "github.com/coder/websocket") {
			t.Errorf("a non-test package depends on %s", dep)
		}
	}
}
