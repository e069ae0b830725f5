package v1_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoClientGo keeps serving/v1 importable without client-go: a
// platform that only reads manifests must not pull in an API client.
func TestNoClientGo(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "k8s.io/client-go") {
			t.Errorf("serving/v1 depends on %s", dep)
		}
		if strings.HasPrefix(dep, "github.com/servekit/servekit/") && dep != "github.com/servekit/servekit/serving" && dep != "github.com/servekit/servekit/serving/v1" {
			t.Errorf("serving/v1 depends on servekit package %s", dep)
		}
	}
}
